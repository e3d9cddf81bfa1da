/**
 * Properties with no oracle: the KV cache, chunking and batching must not change results. Each catches its
 * own class of bug (a cache offset, a mask or a rotary position computed from the current chunk only, a pad
 * leaking into a real token).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { VipLlavaForConditionalGeneration } from '../../src/index.node.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { relativeError } from '../helpers/compare.js';
import { loadGoldens, VARIANTS } from '../helpers/fixtures.js';

const TOL = 1e-5;

function rowsOf(logits: Tensor, batchRow: number, from: number, count: number): Float32Array {
  const [, seq, vocab] = logits.dims;
  return logits.toFloat32().slice((batchRow * seq + from) * vocab, (batchRow * seq + from + count) * vocab);
}

for (const variant of VARIANTS) {
  describe(`invariants: ${variant.name}`, () => {
    let model: VipLlavaForConditionalGeneration;
    let image: (i: number) => Tensor;
    let prompt: number[];
    let imageEnd: number;

    before(async () => {
      model = await VipLlavaForConditionalGeneration.fromPretrained(variant.dir);
      const { meta, tensors } = await loadGoldens(variant.name);
      const px = tensors.get('pixel_values')!;
      const per = px.size / px.dims[0];
      image = (i) => new Tensor('float32', px.toFloat32().slice(i * per, (i + 1) * per), [1, ...px.dims.slice(1)]);
      // The golden prompt plus 10 more tokens: longer than Mistral's sliding window after the image (ids within
      // the vocabulary: tiny-llama3's is small).
      const more = [4500, 901, 17, 29871, 13, 3000, 22, 31999, 5, 600].map((t) => t % model.config.text_config.vocab_size);
      prompt = [...meta.single.input_ids, ...more];
      imageEnd = prompt.lastIndexOf(model.config.image_token_index) + 1;
    });

    test('cached decode, one token at a time, equals a full forward', async () => {
      const full = (await model.forward({ inputIds: [prompt], pixelValues: image(0) })).logits;
      const cache = model.createCache(1, prompt.length);
      const start = imageEnd + 2;
      const pre = (await model.forward({ inputIds: [prompt.slice(0, start)], pixelValues: image(0), cache })).logits;
      assert.ok(relativeError(rowsOf(pre, 0, 0, start), rowsOf(full, 0, 0, start)) < TOL, 'prefill');
      for (let t = start; t < prompt.length; t++) {
        const step = (await model.forward({ inputIds: [[prompt[t]]], cache })).logits;
        assert.deepEqual(step.dims, [1, 1, model.config.text_config.vocab_size]);
        const err = relativeError(rowsOf(step, 0, 0, 1), rowsOf(full, 0, t, 1));
        assert.ok(err < TOL, `position ${t}: ${err}`);
      }
      assert.equal(cache.length, prompt.length);
    });

    test('a float16 KV cache stays within fp16 rounding of the exact forward, and decodes greedily alike', async () => {
      const half = await VipLlavaForConditionalGeneration.fromPretrained(variant.dir, { kvCacheDtype: 'float16' });
      const full = (await model.forward({ inputIds: [prompt], pixelValues: image(0) })).logits;
      const cache = half.createCache(1, 4); // too short on purpose: prefill and decode grow it
      assert.equal(cache.keys[0].dtype, 'float16');
      const start = imageEnd + 2;
      cache.grow(start);
      await half.forward({ inputIds: [prompt.slice(0, start)], pixelValues: image(0), cache });
      let worst = 0;
      for (let t = start; t < prompt.length; t++) {
        cache.grow(t + 1);
        const step = (await half.forward({ inputIds: [[prompt[t]]], cache })).logits;
        worst = Math.max(worst, relativeError(rowsOf(step, 0, 0, 1), rowsOf(full, 0, t, 1)));
      }
      assert.ok(worst > 0 && worst < 2e-3, `largest error ${worst}`); // keys and values rounded, so never exactly 0
      const greedy = (m: VipLlavaForConditionalGeneration) => m.generate({ inputIds: [prompt], pixelValues: image(0), maxNewTokens: 8 });
      assert.deepEqual((await greedy(half)).tolist(), (await greedy(model)).tolist());
      const beams = (m: VipLlavaForConditionalGeneration) => m.generate({ inputIds: [prompt], pixelValues: image(0), maxNewTokens: 5, numBeams: 3 });
      assert.deepEqual((await beams(half)).tolist(), (await beams(model)).tolist());
    });

    test('prefill in chunks equals one prefill', async () => {
      const full = (await model.forward({ inputIds: [prompt], pixelValues: image(0) })).logits;
      const cache = model.createCache(1, prompt.length);
      const cuts = [0, imageEnd, imageEnd + 3, prompt.length];
      for (let c = 0; c + 1 < cuts.length; c++) {
        const [a, b] = [cuts[c], cuts[c + 1]];
        const chunk = (await model.forward({ inputIds: [prompt.slice(a, b)], pixelValues: c === 0 ? image(0) : undefined, cache })).logits;
        const err = relativeError(rowsOf(chunk, 0, 0, b - a), rowsOf(full, 0, a, b - a));
        assert.ok(err < TOL, `chunk [${a}, ${b}): ${err}`);
      }
    });

    test('a left-padded batch equals its rows run alone', async () => {
      const short = prompt.slice(0, imageEnd + 4);
      const long = [prompt[0], 77, ...prompt.slice(1, imageEnd + 9)];
      const rows = [short, long];
      const len = Math.max(short.length, long.length);
      const pad = model.config.pad_token_id!;
      const inputIds = rows.map((r) => [...Array(len - r.length).fill(pad), ...r]);
      const attentionMask = rows.map((r) => [...Array(len - r.length).fill(0), ...Array(r.length).fill(1)]);
      // Positions counted over real tokens, as generate() does.
      const positionIds = attentionMask.map((m) => {
        let n = 0;
        return m.map((v) => (v ? n++ : 0));
      });
      const pixels = new Tensor('float32', Float32Array.from([...image(1).toFloat32(), ...image(2).toFloat32()]), [2, ...image(1).dims.slice(1)]);
      const batch = (await model.forward({ inputIds, attentionMask, positionIds, pixelValues: pixels })).logits;
      for (const [i, r] of rows.entries()) {
        const alone = (await model.forward({ inputIds: [r], pixelValues: image(i + 1) })).logits;
        const err = relativeError(rowsOf(batch, i, len - r.length, r.length), rowsOf(alone, 0, 0, r.length));
        assert.ok(err < TOL, `row ${i}: ${err}`);
      }
      const gBatch = (await model.generate({ inputIds, attentionMask, pixelValues: pixels, maxNewTokens: 6 })).tolist() as number[][];
      for (const [i, r] of rows.entries()) {
        const gAlone = (await model.generate({ inputIds: [r], pixelValues: image(i + 1), maxNewTokens: 6 })).tolist() as number[][];
        assert.deepEqual(gBatch[i].slice(len - r.length), gAlone[0]);
      }
    });
  });
}
