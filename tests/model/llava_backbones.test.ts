/**
 * The Llama-3 and Phi-3 checkpoints of ViP-LLaVA's backbone study in the original format (mucai/vip-llava-llama-3-8b,
 * mucai/vip-llava-phi-3-mini-3.8B), against what llava/eval/model_vqa.py gives on them, computed by transformers 5.18
 * on the same weights in its own layout (tools/make_llava_backbone_fixtures.py): the prompt ids (conv_llava_llama_3 /
 * conv_llava_phi_3, tokenizer_image_token; Llama-3's two BOS, Phi-3's tokenizer as builder.py's use_fast=True got it
 * under transformers 4.37.2), the pixels, logits over the trained vocabulary, and greedy tokens with the eval's
 * terminators as the only stops and Phi-3's vocabulary cut to len(tokenizer).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { VipLlavaForConditionalGeneration, VipLlavaProcessor } from '../../src/index.node.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { evalModelName, llavaSettings } from '../../src/config/llava_config.js';
import { evalGenerationConfig } from '../../src/processor/llava_generation.js';
import { DEFAULT_GENERATION_CONFIG } from '../../src/config/generation_config.js';
import { assertClose } from '../helpers/compare.js';
import { tempDir } from '../helpers/checkpoints.js';
import { FIXTURES, loadGoldenTensors, readJsonFixture, ROOT, type LlavaGoldenCase as Case } from '../helpers/fixtures.js';
import { HubServer } from '../helpers/hub_server.js';

const TOWER = join(FIXTURES, 'tiny-clip-tower');

interface Meta {
  image_tokens: number;
  image_token_id: number;
  /** The trained vocabulary (logits compared over it) and the ids the eval's resized model can generate. */
  vocab: number;
  keep: number;
  terminators: number[];
  cases: Case[];
  tokenizer: Array<{ text: string; ids: number[] }>;
}

/** `fileEos`: the stops generation_config.json lists. */
const VARIANTS: Array<{ name: string; hubId: string; template: string; fileEos: number[] }> = [
  { name: 'tiny-vip-llava-llama-3-8b', hubId: 'mucai/vip-llava-llama-3-8b', template: 'llava_llama_3', fileEos: [2001] },
  { name: 'tiny-vip-llava-phi-3-mini', hubId: 'mucai/vip-llava-phi-3-mini-3.8B', template: 'llava_phi_3', fileEos: [32000, 32001, 32007] },
];


/** Answers every golden case as model_vqa.py would. */
async function checkCases(model: VipLlavaForConditionalGeneration, processor: VipLlavaProcessor, meta: Meta, goldens: Map<string, Tensor>): Promise<void> {
  const pixels = goldens.get('pixel_values')!;
  const perImage = pixels.size / pixels.dims[0];
  for (const [i, c] of meta.cases.entries()) {
    const inputs = await processor.process({ text: c.prompt, images: [join(ROOT, c.image)] });
    assert.deepEqual(Array.from(inputs.inputIds.data, Number), c.input_ids, `ids of ${JSON.stringify(c.prompt.slice(-40))}`);
    if (!c.new_tokens) continue;
    assert.deepEqual(inputs.pixelValues!.data, pixels.toFloat32().subarray(i * perImage, (i + 1) * perImage), 'pixel values (expand2square, then the CLIP processor)');
    const { logits } = await model.forward({ inputIds: inputs.inputIds, pixelValues: inputs.pixelValues, logitsToKeep: 4 });
    assert.deepEqual(logits.dims, [1, 4, meta.vocab]);
    assertClose(new Tensor('float32', logits.toFloat32(), [4, meta.vocab]), goldens.get(`logits_${i}`)!, 1e-4, `logits of case ${i}`);
    const out = await model.generate({ inputIds: inputs.inputIds, pixelValues: inputs.pixelValues, maxNewTokens: 12 });
    const generated = Array.from(out.data, Number).slice(c.input_ids.length);
    assert.deepEqual(generated, c.new_tokens, `greedy tokens of case ${i}`);
    assert.equal(processor.tokenizer.decode(generated, { skipSpecialTokens: true }), c.answer);
  }
}

for (const v of VARIANTS) {
  const checkpoint = join(FIXTURES, v.name);
  const meta = readJsonFixture<Meta>('goldens', `${v.name}.json`);

  describe(`the original format's ${v.template} variant (${v.hubId})`, () => {
    let goldens: Map<string, Tensor>;
    let model: VipLlavaForConditionalGeneration;
    let processor: VipLlavaProcessor;
    before(async () => {
      goldens = await loadGoldenTensors(`${v.name}.safetensors`);
      model = await VipLlavaForConditionalGeneration.fromPretrained(checkpoint, { visionTower: TOWER });
      processor = await VipLlavaProcessor.fromPretrained(checkpoint, { visionTower: TOWER });
    });

    test('loads by path with the vision tower named and answers as the eval does', async () => {
      assert.equal(model.config.image_token_index, meta.image_token_id);
      assert.equal(processor.settings.imageTokensPerImage, meta.image_tokens);
      assert.match(processor.settings.chatTemplate!.source, new RegExp(`built-in ${v.template} template`));
      await checkCases(model, processor, meta, goldens);
    });

    test("the eval's terminators replace generation_config.json's stops, and generation ends on one", async () => {
      assert.deepEqual(model.generationConfig.eos_token_id, meta.terminators);
      const stopped = meta.cases.filter((c) => c.new_tokens && c.new_tokens.length < 12);
      assert.ok(stopped.length > 0, 'a golden answer ends before maxNewTokens');
      for (const c of stopped) assert.ok(meta.terminators.includes(c.new_tokens!.at(-1)!), 'it ends on a terminator');
      // the file's own list would not have answered as the eval did
      const c = stopped[0];
      const inputs = await processor.process({ text: c.prompt, images: [join(ROOT, c.image)] });
      const out = await model.generate({ inputIds: inputs.inputIds, pixelValues: inputs.pixelValues, maxNewTokens: 12, eosTokenId: v.fileEos });
      assert.notDeepEqual(Array.from(out.data, Number).slice(c.input_ids.length), c.new_tokens);
    });

    test("generation keeps to the ids of the eval's model, resized to len(tokenizer)", () => {
      const suppressed = model.generationConfig.suppress_tokens ?? [];
      assert.deepEqual(suppressed, Array.from({ length: meta.vocab - meta.keep }, (_, i) => meta.keep + i));
    });

    test("the tokenizer is the eval's", () => {
      for (const { text, ids } of meta.tokenizer) assert.deepEqual(processor.tokenizer.encode(text), ids, JSON.stringify(text));
    });

    describe('by hub id, the checkpoint and its tower downloaded through the cache', () => {
      let server: HubServer;
      before(async () => {
        server = await HubServer.start([
          { id: v.hubId, commit: 'e'.repeat(40), folder: checkpoint },
          { id: 'openai/clip-vit-large-patch14-336', commit: 'f'.repeat(40), folder: TOWER },
        ]);
      });
      after(() => server.close());

      test('downloads both repositories and answers as the eval does', async () => {
        const cacheDir = tempDir('llava-backbone-hub');
        const byId = await VipLlavaForConditionalGeneration.fromPretrained(v.hubId, { endpoint: server.url, cacheDir });
        const byIdProcessor = await VipLlavaProcessor.fromPretrained(v.hubId, { endpoint: server.url, cacheDir });
        assert.ok(server.log.some((r) => /^\/openai\/clip-vit-large-patch14-336\/resolve\/[0-9a-f]+\/pytorch_model\.bin$/.test(r.url)), 'the tower came from its own repository');
        assert.match(byIdProcessor.settings.chatTemplate!.source, new RegExp(`built-in ${v.template} template`));
        assert.deepEqual(byId.generationConfig.eos_token_id, meta.terminators);
        await checkCases(byId, byIdProcessor, meta, goldens);
      });
    });
  });
}

describe("the eval's reading of a checkpoint's name and tokenizer", () => {
  test('the model name is the last part of the folder or hub id, as get_model_name_from_path has it', () => {
    assert.equal(evalModelName('mucai/vip-llava-llama-3-8b@main'), 'vip-llava-llama-3-8b');
    assert.equal(evalModelName('mucai/vip-llava-phi-3-mini-3.8B'), 'vip-llava-phi-3-mini-3.8B');
    assert.equal(evalModelName('/data/llama-3-runs/vip-llava-7b/'), 'vip-llava-7b');
    assert.equal(evalModelName('/data/vip-llava-llama-3-8b/checkpoint-500'), 'vip-llava-llama-3-8b_checkpoint-500');
    const base = readJsonFixture<Record<string, unknown>>('tiny-vip-llava-7b', 'config.json');
    assert.equal(llavaSettings(base, '/data/llama-3-runs/vip-llava-7b').template, 'llava_v1');
    assert.deepEqual(llavaSettings(base, '/data/llama-3-runs/vip-llava-7b').stopTokens, []);
    const llama3 = llavaSettings(base, 'mucai/vip-llava-llama-3-8b@main');
    assert.deepEqual([llama3.template, llama3.stopTokens, llama3.fastTokenizer], ['llava_llama_3', ['<|eot_id|>'], false]);
    const phi3 = llavaSettings({ ...base, model_type: 'llava_phi3' }, 'mucai/vip-llava-phi-3-mini-3.8B@main');
    assert.deepEqual([phi3.template, phi3.stopTokens, phi3.fastTokenizer], ['llava_phi_3', ['<|end|>'], true]);
  });

  test("a Vicuna checkpoint stops at its tokenizer's eos alone, and a missing end-of-turn token is left out", async () => {
    const vicuna = join(FIXTURES, 'tiny-vip-llava-7b');
    const model = await VipLlavaForConditionalGeneration.fromPretrained(vicuna, { visionTower: TOWER });
    assert.deepEqual(model.generationConfig.eos_token_id, [2]);
    assert.equal(model.generationConfig.suppress_tokens, null);
    const processor = await VipLlavaProcessor.fromPretrained(vicuna, { visionTower: TOWER });
    const settings = { ...llavaSettings(readJsonFixture('tiny-vip-llava-7b', 'config.json'), 'x-llama-3'), stopTokens: ['<|eot_id|>'] };
    const g = evalGenerationConfig({ ...DEFAULT_GENERATION_CONFIG, eos_token_id: [2, 7] }, settings, processor.tokenizer, 32000);
    assert.deepEqual(g.eos_token_id, [2]);
  });
});
