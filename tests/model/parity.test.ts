/**
 * Stage-by-stage parity with transformers 5.18 on the two tiny random checkpoints (fp16 weights, fp32
 * compute): vision hidden states, projector output, logits, loss and greedy tokens.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { VipLlavaForConditionalGeneration } from '../../src/index.node.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertClose, relativeError, slice0 } from '../helpers/compare.js';
import { loadGoldens, VARIANTS, type GoldenMeta } from '../helpers/fixtures.js';

/** Tolerances (relative to each tensor's largest magnitude) for fp32 compute against torch fp32. */
const TOL = { hidden: 1e-5, features: 1e-5, logits: 1e-4, loss: 1e-5 };

function images(pixels: Tensor, which: number[]): Tensor {
  const per = pixels.size / pixels.dims[0];
  const src = pixels.toFloat32();
  const out = new Float32Array(which.length * per);
  which.forEach((img, i) => out.set(src.subarray(img * per, (img + 1) * per), i * per));
  return new Tensor('float32', out, [which.length, ...pixels.dims.slice(1)]);
}

for (const variant of VARIANTS) {
  describe(`parity with transformers: ${variant.name}`, () => {
    let model: VipLlavaForConditionalGeneration;
    let meta: GoldenMeta;
    let goldens: Map<string, Tensor>;
    let pixels: Tensor;

    before(async () => {
      model = await VipLlavaForConditionalGeneration.fromPretrained(variant.dir);
      ({ meta, tensors: goldens } = await loadGoldens(variant.name));
      pixels = goldens.get('pixel_values')!;
    });

    test('vision tower hidden states', async () => {
      const states = await model.getVisionHiddenStates(images(pixels, [0, 1]));
      const expected = goldens.get('vision_hidden_states')!; // [L+1, N, T, C]
      assert.equal(states.length, expected.dims[0]);
      states.forEach((s, i) => {
        const e = slice0(expected, i);
        assertClose(new Tensor('float32', s.toFloat32(), [1, ...s.dims]), e, TOL.hidden, `hidden_states[${i}]`);
      });
    });

    test('projector output (image features)', async () => {
      const features = await model.getImageFeatures(images(pixels, [0, 1]));
      assertClose(features, goldens.get('image_features')!, TOL.features, 'image features');
    });

    test('logits at chosen positions and loss', async () => {
      const s = meta.single;
      const { logits, loss } = await model.forward({ inputIds: [s.input_ids], pixelValues: images(pixels, [0]), labels: [s.labels] });
      const expected = goldens.get('logits_single')!;
      s.logit_positions.forEach((pos, i) => {
        assertClose(slice0(new Tensor('float32', logits.toFloat32(), logits.dims.slice(1)), pos), slice0(expected, i), TOL.logits, `logits[${pos}]`);
      });
      assert.ok(Math.abs(loss! - s.loss) / Math.abs(s.loss) < TOL.loss, `loss ${loss} vs ${s.loss}`);
    });

    test('logitsToKeep keeps the last positions', async () => {
      const s = meta.single;
      const { logits } = await model.forward({ inputIds: [s.input_ids], pixelValues: images(pixels, [0]), logitsToKeep: 2 });
      assert.deepEqual(logits.dims, [1, 2, model.config.text_config.vocab_size]);
      assertClose(new Tensor('float32', logits.toFloat32(), [2, logits.dims[2]]), goldens.get('logits_keep2')!, TOL.logits, 'kept logits');
    });

    test('batched left-padded forward', async () => {
      const { input_ids, attention_mask } = meta.batch;
      const { logits } = await model.forward({ inputIds: input_ids, attentionMask: attention_mask, pixelValues: images(pixels, [1, 2]), logitsToKeep: 1 });
      const expected = goldens.get('logits_batch_last')!;
      assert.ok(relativeError(logits.toFloat32(), expected.toFloat32()) <= TOL.logits);
    });

    for (const name of ['single', 'batch', 'two_images', 'text_only', 'text_long'] as const) {
      test(`greedy generate: ${name}`, async () => {
        const c = meta.generate[name];
        const batched = Array.isArray(c.input_ids[0]);
        const out = await model.generate({
          inputIds: (batched ? c.input_ids : [c.input_ids]) as number[][],
          attentionMask: c.attention_mask,
          pixelValues: c.images.length ? images(pixels, c.images) : undefined,
          maxNewTokens: name === 'text_long' ? 24 : 12,
        });
        assert.deepEqual(out.tolist(), batched ? c.output : [c.output]);
      });
    }

    test("image count mismatch raises transformers' error", async () => {
      await assert.rejects(
        model.forward({ inputIds: [meta.single.input_ids], pixelValues: images(pixels, [0, 1]) }),
        { message: meta.mismatch_error },
      );
    });
  });
}
