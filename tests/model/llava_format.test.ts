/**
 * The original ViP-LLaVA checkpoint format (mucai/vip-llava-7b: LlavaLlamaForCausalLM config with mm_* fields,
 * .bin shards, a SentencePiece tokenizer.model, the vision tower fetched from openai/clip-vit-large-patch14-336),
 * against transformers 5.18 on the same weights converted to its own layout (tools/make_llava_format_fixtures.py):
 * the prompt's ids as the original tokenizer_image_token makes them, pixels as its expand2square + CLIP processor
 * make them (bit for bit), logits over the original 32000 ids, greedy tokens.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig, VipLlavaForConditionalGeneration, VipLlavaProcessor } from '../../src/index.node.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/compare.js';
import { tempDir } from '../helpers/checkpoints.js';
import { FIXTURES, loadGoldenTensors, readJsonFixture, ROOT, type LlavaGoldenCase as Case } from '../helpers/fixtures.js';
import { HubServer } from '../helpers/hub_server.js';
import { ConfigError } from '../../src/errors.js';

const CHECKPOINT = join(FIXTURES, 'tiny-vip-llava-7b');
const TOWER = join(FIXTURES, 'tiny-clip-tower');

const meta = readJsonFixture<{ image_tokens: number; cases: Case[] }>('goldens', 'tiny-vip-llava-7b.json');


/** Answers every golden case with `model` and `processor` as the original eval would. */
async function checkCases(model: VipLlavaForConditionalGeneration, processor: VipLlavaProcessor, goldens: Map<string, Tensor>): Promise<void> {
  const pixels = goldens.get('pixel_values')!;
  for (const [i, c] of meta.cases.entries()) {
    const inputs = await processor.process({ text: c.prompt, images: [join(ROOT, c.image)] });
    assert.deepEqual(Array.from(inputs.inputIds.data, Number), c.input_ids, `ids of ${JSON.stringify(c.prompt.slice(-40))}`);
    if (!c.new_tokens) continue;
    const expected = pixels.toFloat32().subarray(i * (pixels.size / pixels.dims[0]), (i + 1) * (pixels.size / pixels.dims[0]));
    assert.deepEqual(inputs.pixelValues!.data, expected, 'pixel values (expand2square, then the CLIP processor)');
    const { logits } = await model.forward({ inputIds: inputs.inputIds, pixelValues: inputs.pixelValues, logitsToKeep: 4 });
    assert.deepEqual(logits.dims, [1, 4, 32000]);
    assertClose(new Tensor('float32', logits.toFloat32(), [4, 32000]), goldens.get(`logits_${i}`)!, 1e-4, `logits of case ${i}`);
    const out = await model.generate({ inputIds: inputs.inputIds, pixelValues: inputs.pixelValues, maxNewTokens: 10 });
    const generated = Array.from(out.data, Number).slice(c.input_ids.length);
    assert.deepEqual(generated, c.new_tokens);
    assert.equal(processor.tokenizer.decode(generated, { skipSpecialTokens: true }), c.answer);
  }
}

describe('the original LLaVA format (mucai/vip-llava-*)', () => {
  let goldens: Map<string, Tensor>;
  before(async () => {
    goldens = await loadGoldenTensors('tiny-vip-llava-7b.safetensors');
  });

  test('loads by path with the vision tower named, and matches transformers on the converted weights', async () => {
    const model = await VipLlavaForConditionalGeneration.fromPretrained(CHECKPOINT, { visionTower: TOWER });
    const processor = await VipLlavaProcessor.fromPretrained(CHECKPOINT, { visionTower: TOWER });
    assert.equal(model.config.image_token_index, 32000);
    assert.deepEqual(model.config.vision_feature_layers, [-2, -5, -8, -11, 6]);
    assert.equal(processor.settings.imageTokensPerImage, meta.image_tokens);
    assert.match(processor.settings.chatTemplate!.source, /llava_v1/);
    const features = await model.getImageFeatures(goldens.get('pixel_values')!);
    assertClose(features, goldens.get('image_features')!, 1e-5, 'image features');
    await checkCases(model, processor, goldens);
  });

  test("the chat template is llava_v1, as the original eval scripts pick it, and renders the golden prompt", async () => {
    const processor = await VipLlavaProcessor.fromPretrained(CHECKPOINT, { visionTower: TOWER });
    const c = meta.cases[0];
    const prompt = processor.applyChatTemplate([{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: c.question! }] }], { addGenerationPrompt: true });
    assert.equal(prompt, c.prompt);
  });

  describe('by hub id, the checkpoint and its tower downloaded through the cache', () => {
    let server: HubServer;
    before(async () => {
      server = await HubServer.start([
        { id: 'mucai/vip-llava-7b', commit: 'c'.repeat(40), folder: CHECKPOINT },
        { id: 'openai/clip-vit-large-patch14-336', commit: 'd'.repeat(40), folder: TOWER },
      ]);
    });
    after(() => server.close());

    test('downloads both repositories and answers as transformers does; then loads offline', async () => {
      const cacheDir = tempDir('llava-hub');
      const model = await VipLlavaForConditionalGeneration.fromPretrained('mucai/vip-llava-7b', { endpoint: server.url, cacheDir });
      const processor = await VipLlavaProcessor.fromPretrained('mucai/vip-llava-7b', { endpoint: server.url, cacheDir });
      assert.ok(server.log.some((r) => /^\/openai\/clip-vit-large-patch14-336\/resolve\/[0-9a-f]+\/pytorch_model\.bin$/.test(r.url)), `the tower came from its own repository: ${server.log.map((r) => r.url).join(' ')}`);
      await checkCases(model, processor, goldens);
      const before = server.log.length;
      const offline = await VipLlavaForConditionalGeneration.fromPretrained('mucai/vip-llava-7b', { endpoint: server.url, cacheDir, localFilesOnly: true });
      assert.equal(server.log.length, before, 'nothing fetched offline');
      assert.equal((await loadConfig('mucai/vip-llava-7b', { cacheDir, localFilesOnly: true })).vision_config.num_hidden_layers, 10);
      assert.ok(offline.config.text_config.vocab_size === 32000);
    });
  });

  test('a LLaVA config that is not ViP-LLaVA is refused naming the field', async () => {
    const { isLlavaConfig, llavaSettings } = await import('../../src/config/llava_config.js');
    const base = readJsonFixture<Record<string, unknown>>('tiny-vip-llava-7b', 'config.json');
    assert.ok(isLlavaConfig(base));
    assert.throws(() => llavaSettings({ ...base, mm_vision_tower: 'openai/clip-vit-large-patch14-336' }, 'x', 'x/config.json'), (e: Error) => e instanceof ConfigError && /x\/config\.json: mm_vision_tower is "openai\/clip-vit-large-patch14-336", LLaVA's single-layer tower/.test(e.message));
    assert.throws(() => llavaSettings({ ...base, mm_projector_type: 'linear' }, 'x'), /mm_projector_type is "linear"/);
    assert.throws(() => llavaSettings({ ...base, mm_use_im_start_end: true }, 'x'), /mm_use_im_start_end is true/);
    assert.equal(llavaSettings(base, 'mucai/vip-llava-llama-3-8b').template, 'llava_llama_3');
    assert.equal(llavaSettings({ ...base, model_type: 'llava_phi3' }, 'mucai/vip-llava-phi-3-mini-3.8B').template, 'llava_phi_3');
  });
});
