/**
 * The rest of transformers' VipLlava API against 5.18 (tools/make_model_output_fixtures.py, eager attention):
 * VipLlavaModel (no LM head), every hidden state, attention weights (left padding included), image hidden
 * states, inputsEmbeds in place of ids, vision feature layers per call, get_placeholder_mask and its error.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { VipLlavaForConditionalGeneration, VipLlavaModel } from '../../src/index.node.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertClose, slice0 } from '../helpers/compare.js';
import { FIXTURES, loadGoldenTensors, readJsonFixture } from '../helpers/fixtures.js';

interface Meta {
  single: number[];
  batch: number[][];
  mask: number[][];
  other_layers: number | number[];
  hidden_states: number;
  mismatch_error: string;
}

const TOL = 1e-4;


/** Rows [B, S, ...] of `t` at the unpadded positions of `mask` only, flattened (padded rows are noise in both). */
function unpadded(t: Tensor, mask: number[][]): Tensor {
  const per = t.size / (mask.length * mask[0].length);
  const src = t.toFloat32();
  const out: number[] = [];
  mask.flat().forEach((m, i) => m === 1 && out.push(...src.subarray(i * per, (i + 1) * per)));
  return new Tensor('float32', Float32Array.from(out), [out.length]);
}

/** Entry i of a stacked golden, without the stacking axis. */
const at = (t: Tensor, i: number) => {
  const s = slice0(t, i);
  return new Tensor('float32', s.toFloat32(), s.dims.slice(1));
};

const images = (pixels: Tensor, n: number) => new Tensor('float32', pixels.toFloat32().slice(0, n * (pixels.size / pixels.dims[0])), [n, ...pixels.dims.slice(1)]);

for (const name of ['tiny-llama', 'tiny-mistral']) {
  describe(`model outputs as transformers gives them: ${name}`, () => {
    const meta = readJsonFixture<Meta>('goldens', 'model_outputs', `${name}.json`);
    let g: Map<string, Tensor>;
    let base: VipLlavaModel;
    let full: VipLlavaForConditionalGeneration;
    let pixels: Tensor;
    before(async () => {
      g = await loadGoldenTensors('model_outputs', `${name}.safetensors`);
      pixels = g.get('pixel_values')!;
      base = await VipLlavaModel.fromPretrained(join(FIXTURES, name));
      full = await VipLlavaForConditionalGeneration.fromPretrained(join(FIXTURES, name));
    });

    test('VipLlavaModel: last hidden state, every hidden state, attention weights, image hidden states', async () => {
      assert.ok(!('lm_head' in base), 'no LM head');
      const out = await base.forward({ inputIds: [meta.single], pixelValues: images(pixels, 1), outputHiddenStates: true, outputAttentions: true });
      const s = meta.single.length;
      assertClose(new Tensor('float32', out.lastHiddenState.toFloat32(), [s, out.lastHiddenState.dims[2]]), g.get('base_last_hidden_state')!, TOL, 'last hidden state');
      assert.equal(out.hiddenStates!.length, meta.hidden_states);
      out.hiddenStates!.forEach((h, i) => assertClose(new Tensor('float32', h.toFloat32(), h.dims.slice(1)), at(g.get('base_hidden_states')!, i), TOL, `hidden_states[${i}]`));
      const expected = g.get('base_attentions')!;
      assert.equal(out.attentions!.length, expected.dims[0]);
      out.attentions!.forEach((a, i) => {
        assert.deepEqual(a.dims, [1, ...expected.dims.slice(1)]);
        assertClose(new Tensor('float32', a.toFloat32(), a.dims.slice(1)), at(expected, i), TOL, `attentions[${i}]`);
      });
      assertClose(out.imageHiddenStates!, g.get('base_image_hidden_states')!, TOL, 'image hidden states');
    });

    test('a left-padded batch: attention weights of every row (padding rows weigh every key alike), hidden states of the real tokens', async () => {
      const out = await base.forward({ inputIds: meta.batch, attentionMask: meta.mask, pixelValues: images(pixels, 2), outputHiddenStates: true, outputAttentions: true });
      const expected = g.get('batch_attentions')!;
      out.attentions!.forEach((a, i) => assertClose(a, at(expected, i), TOL, `attentions[${i}]`));
      out.hiddenStates!.forEach((h, i) => assertClose(unpadded(h, meta.mask), unpadded(at(g.get('batch_hidden_states')!, i), meta.mask), TOL, `hidden_states[${i}]`));
      assertClose(unpadded(out.lastHiddenState, meta.mask), unpadded(g.get('batch_last_hidden_state')!, meta.mask), TOL, 'last hidden state');
    });

    test('inputsEmbeds in place of ids: image rows found by their embedding', async () => {
      const table = full.model.language_model.embed_tokens;
      const rows = table.forward(Int32Array.from(meta.single)); // [S, hidden]
      const embeds = await rows.backend.read(rows);
      const hidden = full.config.text_config.hidden_size;
      const inputsEmbeds = new Tensor('float32', embeds, [1, meta.single.length, hidden]);
      const out = await full.forward({ inputsEmbeds, pixelValues: images(pixels, 1), outputHiddenStates: true, logitsToKeep: 3 });
      assertClose(new Tensor('float32', out.logits.toFloat32(), out.logits.dims.slice(1)), g.get('embeds_logits')!, TOL, 'logits');
      const last = out.hiddenStates!.at(-1)!;
      assertClose(new Tensor('float32', last.toFloat32(), last.dims.slice(1)), g.get('embeds_last_hidden')!, TOL, 'last hidden state');
      const mask = await full.getPlaceholderMask(null, inputsEmbeds, out.imageHiddenStates!);
      assert.deepEqual(Array.from(mask.data), meta.single.map((id) => (id === full.config.image_token_index ? 1 : 0)));
      assert.deepEqual(mask.dims, [1, meta.single.length, 1]);
      await assert.rejects(full.forward({ inputIds: [meta.single], inputsEmbeds }), /You must specify exactly one of inputIds or inputsEmbeds/);
    });

    test('vision feature layers chosen per call', async () => {
      const feats = await full.getImageFeatures(pixels, { visionFeatureLayers: meta.other_layers });
      assertClose(feats, g.get('other_layer_features')!, TOL, 'features of other layers');
      const { logits } = await full.forward({ inputIds: [meta.single], pixelValues: images(pixels, 1), visionFeatureLayers: meta.other_layers });
      const s = meta.single.length;
      const vocab = logits.dims[2];
      assertClose(new Tensor('float32', logits.toFloat32().slice((s - 3) * vocab), [3, vocab]), g.get('other_layer_logits')!, TOL, 'logits');
      await assert.rejects(full.getImageFeatures(pixels, { visionFeatureLayers: [0, 1, 2, 3, 4, 5] }), /visionFeatureLayers must be/);
      await assert.rejects(full.getImageFeatures(pixels, { visionFeatureLayers: 99 }), /visionFeatureLayers must be/);
    });

    test("too many images for the image tokens: transformers' error", async () => {
      await assert.rejects(full.forward({ inputIds: [meta.single], pixelValues: pixels }), { message: meta.mismatch_error });
      const features = await full.getImageFeatures(pixels);
      const embeds = new Tensor('float32', new Float32Array(meta.single.length * full.config.text_config.hidden_size), [1, meta.single.length, full.config.text_config.hidden_size]);
      await assert.rejects(full.getPlaceholderMask([meta.single], embeds, features), { message: meta.mismatch_error });
    });
  });
}
