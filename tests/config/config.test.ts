import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/index.node.js';
import { VipLlavaConfig } from '../../src/config/vipllava_config.js';
import { parseGenerationConfig } from '../../src/config/generation_config.js';
import { ConfigError } from '../../src/errors.js';
import { rotaryDim } from '../../src/config/rope_parameters.js';
import { TINY_LLAMA, TINY_LLAMA3, TINY_MISTRAL, TINY_PHI3 } from '../helpers/fixtures.js';

/** llava-hf/vip-llava-7b-hf's config.json as the 4.36 converter wrote it: only non-default keys. */
const HUB_7B = {
  architectures: ['VipLlavaForConditionalGeneration'],
  ignore_index: -100,
  image_token_index: 32000,
  model_type: 'vipllava',
  pad_token_id: 32001,
  projector_hidden_act: 'gelu',
  projector_layernorm_eps: 1e-5,
  text_config: {
    _name_or_path: 'lmsys/vicuna-7b-v1.5',
    architectures: ['LlamaForCausalLM'],
    max_position_embeddings: 4096,
    model_type: 'llama',
    rms_norm_eps: 1e-5,
    torch_dtype: 'float16',
    vocab_size: 32064,
  },
  torch_dtype: 'float16',
  vision_config: {
    hidden_size: 1024, image_size: 336, intermediate_size: 4096, model_type: 'clip_vision_model',
    num_attention_heads: 16, num_hidden_layers: 24, patch_size: 14, projection_dim: 768, vocab_size: 32000,
  },
  vision_feature_layers: [-2, -5, -8, -11, 6],
  vocab_size: 32064,
};

const withText = (text: Record<string, unknown>) => ({ ...HUB_7B, text_config: { ...HUB_7B.text_config, ...text } });

describe('VipLlavaConfig', () => {
  test('the 7B hub config gets the Llama and CLIP class defaults', () => {
    const c = VipLlavaConfig.fromDict(HUB_7B);
    const t = c.text_config;
    assert.equal(t.hidden_size, 4096);
    assert.equal(t.intermediate_size, 11008);
    assert.equal(t.num_hidden_layers, 32);
    assert.equal(t.num_attention_heads, 32);
    assert.equal(t.num_key_value_heads, 32);
    assert.equal(t.head_dim, 128);
    assert.equal(t.hidden_act, 'silu');
    assert.equal(t.rms_norm_eps, 1e-5);
    assert.deepEqual(t.rope_parameters, { rope_type: 'default', rope_theta: 10000 });
    assert.equal(t.bos_token_id, 1);
    assert.equal(t.eos_token_id, 2);
    assert.equal(t.pad_token_id, null);
    assert.equal(t.sliding_window, null);
    assert.equal(c.vision_config.hidden_act, 'quick_gelu');
    assert.equal(c.vision_config.layer_norm_eps, 1e-5);
    assert.equal(c.imageTokensPerImage, 576);
    assert.deepEqual(c.featureLayerIndices, [23, 20, 17, 14, 6]);
    assert.equal(c.visionLayersNeeded, 23);
    assert.equal(c.projectorInputSize, 5120);
    assert.equal(c.pad_token_id, 32001);
    assert.equal(c.dtype, 'float16');
  });

  test('an empty config is ViP-LLaVA-7B shaped (CLIP ViT-L/14-336, default Llama)', () => {
    const c = VipLlavaConfig.fromDict({ model_type: 'vipllava' });
    assert.equal(c.vision_config.image_size, 336);
    assert.equal(c.vision_config.num_hidden_layers, 24);
    assert.equal(c.text_config.vocab_size, 32000);
    assert.equal(c.image_token_index, 32000);
    assert.equal(c.projector_hidden_act, 'gelu');
    assert.equal(c.projector_layernorm_eps, 1e-5);
  });

  test('a vision_config dict falls back to CLIPVisionConfig defaults, not ViT-L', () => {
    const c = VipLlavaConfig.fromDict({ model_type: 'vipllava', vision_config: { intermediate_size: 100 } });
    assert.equal(c.vision_config.image_size, 224);
    assert.equal(c.vision_config.patch_size, 32);
    assert.equal(c.vision_config.num_hidden_layers, 12);
  });

  test('Mistral defaults', () => {
    const c = VipLlavaConfig.fromDict({ model_type: 'vipllava', text_config: { model_type: 'mistral' } });
    const t = c.text_config;
    assert.equal(t.num_key_value_heads, 8);
    assert.equal(t.intermediate_size, 14336);
    assert.equal(t.sliding_window, 4096);
    assert.equal(t.max_position_embeddings, 131072);
    const noWindow = VipLlavaConfig.fromDict({ model_type: 'vipllava', text_config: { model_type: 'mistral', sliding_window: null } });
    assert.equal(noWindow.text_config.sliding_window, null);
  });

  test("Phi-3 defaults (Phi3Config's, Phi-3-mini-4k's shape)", () => {
    const t = VipLlavaConfig.fromDict({ model_type: 'vipllava', text_config: { model_type: 'phi3' } }).text_config;
    assert.deepEqual(
      [t.vocab_size, t.hidden_size, t.intermediate_size, t.num_hidden_layers, t.num_attention_heads, t.num_key_value_heads, t.head_dim],
      [32064, 3072, 8192, 32, 32, 32, 96],
    );
    assert.deepEqual([t.rms_norm_eps, t.max_position_embeddings, t.bos_token_id, t.eos_token_id, t.pad_token_id], [1e-5, 4096, 1, 32000, 32000]);
    assert.deepEqual(t.rope_parameters, { rope_type: 'default', rope_theta: 10000 });
    assert.equal(t.sliding_window, null);
    assert.equal(t.hidden_act, 'silu');
    const mini = VipLlavaConfig.fromDict({
      model_type: 'vipllava',
      text_config: { model_type: 'phi3', sliding_window: 2047, rope_scaling: null, rope_theta: 10000.0, attention_bias: false, pad_token_id: null },
    }).text_config;
    assert.equal(mini.sliding_window, 2047);
    assert.equal(mini.pad_token_id, null);
  });

  test('Phi-3 partial rotary and head_dim; Llama ignores a sliding_window and refuses partial rotary', () => {
    const phi = (text: Record<string, unknown>) => VipLlavaConfig.fromDict({ model_type: 'vipllava', text_config: { model_type: 'phi3', hidden_size: 64, num_attention_heads: 4, ...text } }).text_config;
    assert.deepEqual(phi({ partial_rotary_factor: 0.75 }).rope_parameters, { rope_type: 'default', rope_theta: 10000, partial_rotary_factor: 0.75 });
    assert.deepEqual(phi({ rope_parameters: { rope_type: 'default', rope_theta: 5000, partial_rotary_factor: 0.5 } }).rope_parameters, { rope_type: 'default', rope_theta: 5000, partial_rotary_factor: 0.5 });
    assert.deepEqual(phi({ partial_rotary_factor: 1 }).rope_parameters, { rope_type: 'default', rope_theta: 10000 });
    assert.equal(phi({ head_dim: 8 }).head_dim, 8);
    assert.equal(rotaryDim(phi({ partial_rotary_factor: 0.3 }).rope_parameters, 16), 4); // int(16 · 0.3), as transformers
    assert.throws(() => phi({ partial_rotary_factor: 0.1 }), /text_config\.rope_scaling\.partial_rotary_factor \(0\.1\) of head_dim 16 rotates 1 dims; it must be an even number of at least 2/);
    assert.throws(() => phi({ rope_scaling: { type: 'longrope', short_factor: [1], long_factor: [1] } }), /text_config\.rope_scaling\.type "longrope" is not supported \(supported: "default"\)/);
    assert.throws(() => phi({ rope_parameters: { rope_type: 'linear', factor: 2 } }), /rope_parameters\.rope_type "linear" is not supported/);
    assert.throws(() => VipLlavaConfig.fromDict(withText({ partial_rotary_factor: 0.5 })), /partial_rotary_factor \(0\.5\) is not supported \(only 1\.0 is\)/);
    assert.equal(VipLlavaConfig.fromDict(withText({ sliding_window: 16 })).text_config.sliding_window, null);
  });

  test('4.x and 5.x rope spellings give the same parameters', () => {
    const old = VipLlavaConfig.fromDict(withText({ rope_theta: 500000, rope_scaling: { type: 'linear', factor: 2 } }));
    const mid = VipLlavaConfig.fromDict(withText({ rope_theta: 500000, rope_scaling: { rope_type: 'linear', factor: 2 } }));
    const neu = VipLlavaConfig.fromDict(withText({ rope_parameters: { rope_type: 'linear', factor: 2, rope_theta: 500000 } }));
    const expected = { rope_type: 'linear', rope_theta: 500000, factor: 2 };
    assert.deepEqual(old.text_config.rope_parameters, expected);
    assert.deepEqual(mid.text_config.rope_parameters, expected);
    assert.deepEqual(neu.text_config.rope_parameters, expected);
    const llama3 = VipLlavaConfig.fromDict(withText({
      rope_parameters: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, rope_theta: 500000 },
    }));
    assert.equal(llama3.text_config.rope_parameters.original_max_position_embeddings, 4096);
  });

  test('torch_dtype (4.x) and dtype (5.x)', () => {
    assert.equal(VipLlavaConfig.fromDict({ model_type: 'vipllava', dtype: 'bfloat16' }).dtype, 'bfloat16');
    assert.equal(VipLlavaConfig.fromDict({ model_type: 'vipllava', torch_dtype: 'float32' }).dtype, 'float32');
    assert.equal(VipLlavaConfig.fromDict({ model_type: 'vipllava' }).dtype, null);
  });

  test('vision_feature_layers as an int or a list', () => {
    const one = VipLlavaConfig.fromDict({ ...HUB_7B, vision_feature_layers: -1 });
    assert.deepEqual(one.featureLayerIndices, [24]);
    assert.equal(one.projectorInputSize, 1024);
    const list = VipLlavaConfig.fromDict({ ...HUB_7B, vision_feature_layers: [-1] });
    assert.equal(list.projectorInputSize, 1024);
    const two = VipLlavaConfig.fromDict({ ...HUB_7B, vision_feature_layers: [0, -25] });
    assert.deepEqual(two.featureLayerIndices, [0, 0]);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['unknown model_type', { ...HUB_7B, model_type: 'llava' }, /config\.json: model_type "llava" is not supported/],
    ['missing model_type', { vision_feature_layers: 1 }, /model_type is missing/],
    ['unknown text model_type', withText({ model_type: 'gemma' }), /text_config\.model_type "gemma" is not supported/],
    ['unknown vision model_type', { ...HUB_7B, vision_config: { model_type: 'siglip_vision_model' } }, /vision_config\.model_type "siglip_vision_model"/],
    ['heads not dividing hidden', withText({ hidden_size: 4096, num_attention_heads: 30 }), /text_config\.num_attention_heads \(30\) does not divide text_config\.hidden_size \(4096\)/],
    ['kv heads not dividing heads', withText({ num_key_value_heads: 5 }), /text_config\.num_key_value_heads \(5\)/],
    ['vision heads', { ...HUB_7B, vision_config: { ...HUB_7B.vision_config, num_attention_heads: 7 } }, /vision_config\.num_attention_heads \(7\) does not divide/],
    ['unsupported rope type', withText({ rope_scaling: { type: 'yarn', factor: 4 } }), /text_config\.rope_scaling\.type "yarn" is not supported/],
    ['unsupported rope type (5.x)', withText({ rope_parameters: { rope_type: 'longrope' } }), /text_config\.rope_parameters\.rope_type "longrope"/],
    ['rope factor missing', withText({ rope_parameters: { rope_type: 'linear' } }), /rope_parameters\.factor is required/],
    ['feature layer out of range', { ...HUB_7B, vision_feature_layers: [-2, 25] }, /vision_feature_layers entry 25 is out of range for 24 vision layers/],
    ['negative feature layer out of range', { ...HUB_7B, vision_feature_layers: -26 }, /vision_feature_layers entry -26 is out of range/],
    ['feature layers not ints', { ...HUB_7B, vision_feature_layers: ['a'] }, /vision_feature_layers must be an integer or a non-empty list/],
    ['wrong type', withText({ hidden_size: '4096' }), /text_config\.hidden_size must be an integer, got "4096"/],
    ['unknown activation', { ...HUB_7B, projector_hidden_act: 'swish2' }, /projector_hidden_act "swish2" is not supported/],
    ['patch not dividing image', { ...HUB_7B, vision_config: { ...HUB_7B.vision_config, patch_size: 15 } }, /vision_config\.patch_size \(15\) does not divide vision_config\.image_size \(336\)/],
    ['tied embeddings', { ...HUB_7B, tie_word_embeddings: true }, /tie_word_embeddings is true/],
    ['unknown dtype', { ...HUB_7B, torch_dtype: 'float8' }, /torch_dtype "float8" is not supported/],
    ['not an object', [1, 2], /expected a JSON object/],
  ];
  for (const [name, json, message] of bad) {
    test(`rejects ${name} with one line naming the field`, () => {
      assert.throws(() => VipLlavaConfig.fromDict(json), (e: unknown) => {
        assert.ok(e instanceof ConfigError, `${e}`);
        assert.match(e.message, message);
        assert.ok(!e.message.includes('\n'), 'one line');
        return true;
      });
    });
  }

  test('fromPretrained reads both fixture folders (4.x minimal and 5.x full configs)', async () => {
    const llama = await loadConfig(TINY_LLAMA);
    assert.equal(llama.text_config.num_key_value_heads, 2);
    assert.equal(llama.text_config.rope_parameters.rope_theta, 10000);
    const mistral = await loadConfig(TINY_MISTRAL);
    assert.equal(mistral.text_config.model_type, 'mistral');
    assert.equal(mistral.text_config.sliding_window, 8);
    assert.equal(mistral.text_config.rope_parameters.rope_theta, 1e6);
    assert.equal(mistral.vision_feature_layers, -2);
    assert.equal(mistral.imageTokensPerImage, 25);
  });

  test('the backbone fixtures: Phi-3 with its class defaults, Llama-3 with rope_scaling null', async () => {
    const phi3 = (await loadConfig(TINY_PHI3)).text_config;
    assert.deepEqual(
      [phi3.model_type, phi3.vocab_size, phi3.hidden_size, phi3.num_attention_heads, phi3.num_key_value_heads, phi3.head_dim, phi3.sliding_window],
      ['phi3', 32064, 8, 4, 2, 8, 12],
    );
    assert.deepEqual([phi3.bos_token_id, phi3.eos_token_id, phi3.pad_token_id, phi3.rms_norm_eps], [1, 32000, 32000, 1e-5]);
    assert.deepEqual(phi3.rope_parameters, { rope_type: 'default', rope_theta: 5000, partial_rotary_factor: 0.5 });
    const llama3 = (await loadConfig(TINY_LLAMA3)).text_config;
    assert.deepEqual([llama3.model_type, llama3.num_attention_heads, llama3.num_key_value_heads, llama3.head_dim, llama3.sliding_window], ['llama', 4, 1, 24, null]);
    assert.deepEqual(llama3.rope_parameters, { rope_type: 'default', rope_theta: 500000 });
    assert.equal(llama3.eos_token_id, llama3.bos_token_id! + 9); // <|eot_id|>
  });

  test('generation_config.json', () => {
    const g = parseGenerationConfig({ _from_model_config: true, bos_token_id: 1, eos_token_id: [2, 7], pad_token_id: 32001 });
    assert.deepEqual(g.eos_token_id, [2, 7]);
    assert.equal(g.pad_token_id, 32001);
    assert.equal(g.max_new_tokens, null);
    assert.throws(() => parseGenerationConfig({ eos_token_id: 'x' }), /generation_config\.json: eos_token_id must be an integer or a list/);
  });
});
