/** The reference kernels on small cases computed independently here. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReferenceBackend } from '../../src/backend/cpu/reference_backend.js';
import type { AttentionOptions } from '../../src/backend/backend.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { float32ToBfloat16, float32ToHalf } from '../../src/tensor/float16.js';
import { relativeError } from '../helpers/compare.js';

const be = new ReferenceBackend();
let seed = 1;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
const randn = (n: number) => Float32Array.from({ length: n }, rand);
const t = (data: Float32Array, dims: number[]) => be.fromHost(data, dims);
const read = (x: Parameters<typeof be.read>[0]) => be.read(x);

describe('reference backend', () => {
  test('linear: fp16 and bf16 weights equal their float32 values; bias added', async () => {
    const x = randn(3 * 5);
    const w32 = Float32Array.from(randn(4 * 5), (v) => v); // rounded below to each dtype
    const h = Uint16Array.from(w32, float32ToHalf);
    const b = Uint16Array.from(w32, float32ToBfloat16);
    const wh = be.upload(new Tensor('float16', h, [4, 5]));
    const wb = be.upload(new Tensor('bfloat16', b, [4, 5]));
    const whWide = be.upload(new Tensor('float16', h, [4, 5]), { storage: 'float32', compute: 'float32', linear: false });
    assert.equal(wh.dtype, 'float16');
    assert.equal(whWide.dtype, 'float32');
    const bias = randn(4);
    const viaHalf = await read(be.linear(t(x, [3, 5]), wh, t(bias, [4])));
    const viaWide = await read(be.linear(t(x, [3, 5]), whWide, t(bias, [4])));
    assert.deepEqual(viaHalf, viaWide);
    const wbF = await read(wb);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 4; j++) {
        let s = 0;
        for (let k = 0; k < 5; k++) s += x[i * 5 + k] * wbF[j * 5 + k];
        const got = (await read(be.linear(t(x, [3, 5]), wb)))[i * 4 + j];
        assert.ok(Math.abs(got - s) < 1e-6);
      }
    }
    assert.throws(() => be.linear(t(x, [3, 5]), be.upload(new Tensor('float32', randn(8), [2, 4]))), /does not match weight/);
  });

  test('layerNorm and rmsNorm', async () => {
    const x = Float32Array.from([1, 2, 3, 4, -1, 0, 1, 2]);
    const w = Float32Array.from([1, 2, 0.5, 1]);
    const b = Float32Array.from([0, 1, 0, -1]);
    const ln = await read(be.layerNorm(t(x, [2, 4]), t(w, [4]), t(b, [4]), 1e-5));
    const mean = 2.5;
    const std = Math.sqrt(1.25 + 1e-5);
    assert.ok(Math.abs(ln[0] - ((1 - mean) / std) * 1) < 1e-6);
    assert.ok(Math.abs(ln[1] - (((2 - mean) / std) * 2 + 1)) < 1e-6);
    const rms = await read(be.rmsNorm(t(x, [2, 4]), t(w, [4]), 1e-6));
    const r = Math.sqrt((1 + 4 + 9 + 16) / 4 + 1e-6);
    assert.ok(Math.abs(rms[3] - 4 / r) < 1e-6);
  });

  test('activations', async () => {
    const x = Float32Array.from([-2, -0.5, 0, 0.5, 2]);
    const gelu = await read(be.activation(t(x, [5]), 'gelu'));
    assert.ok(Math.abs(gelu[4] - 1.9544997361036416) < 1e-6);
    assert.ok(Math.abs(gelu[0] - -0.04550026389635842) < 1e-7);
    const qg = await read(be.activation(t(x, [5]), 'quick_gelu'));
    assert.ok(Math.abs(qg[4] - 2 / (1 + Math.exp(-3.404))) < 1e-6);
    const silu = await read(be.activation(t(x, [5]), 'silu'));
    assert.ok(Math.abs(silu[3] - 0.5 / (1 + Math.exp(-0.5))) < 1e-7);
  });

  test('rope rotates each half-split pair by position × frequency', async () => {
    const x = Float32Array.from([1, 0, 0, 1, /* head 2 */ 2, 3, 4, 5]); // one row, 2 heads of dim 4
    const inv = Float32Array.from([1, 0.5]);
    const out = await read(be.rope(t(x, [1, 1, 8]), be.positionInputs({ positions: Int32Array.from([3]), invFreq: inv, ropeScaling: 1 }), 4));
    const [c0, s0, c1, s1] = [Math.cos(3), Math.sin(3), Math.cos(1.5), Math.sin(1.5)];
    const expect = [1 * c0 - 0 * s0, 0 * c1 - 1 * s1, 0 * c0 + 1 * s0, 1 * c1 + 0 * s1, 2 * c0 - 4 * s0, 3 * c1 - 5 * s1, 4 * c0 + 2 * s0, 5 * c1 + 3 * s1];
    assert.ok(relativeError(out, expect) < 1e-6);
    const same = await read(be.rope(t(x, [1, 1, 8]), be.positionInputs({ positions: Int32Array.from([0]), invFreq: inv, ropeScaling: 1 }), 4));
    assert.deepEqual(same, x);
  });

  test('attention: GQA, causal offset, key mask, sliding window, padded cache, fully masked rows', async () => {
    const [B, S, T, nh, nkv, d] = [2, 3, 7, 4, 2, 3];
    const past = 2;
    const kvLength = past + S; // 5 of the 7 cache rows are valid
    const q = randn(B * S * nh * d);
    const k = randn(B * T * nkv * d);
    const v = randn(B * T * nkv * d);
    const mask = Uint8Array.from([1, 1, 1, 1, 1, /* row 1: */ 0, 0, 0, 1, 1]);
    const keyMask = be.positionInputs({ keyMask: mask });
    const cases: Array<Partial<AttentionOptions>> = [{}, { causal: { pastLength: past } }, { causal: { pastLength: past }, keyMask }, { causal: { pastLength: past }, slidingWindow: 2 }];
    for (const extra of cases) {
      const o: AttentionOptions = { numHeads: nh, numKvHeads: nkv, headDim: d, scale: 0.7, kvLength, ...extra };
      const got = await read(be.attention(t(q, [B, S, nh * d]), t(k, [B, T, nkv * d]), t(v, [B, T, nkv * d]), o));
      for (let b = 0; b < B; b++) {
        for (let s = 0; s < S; s++) {
          for (let h = 0; h < nh; h++) {
            const g = Math.floor(h / (nh / nkv));
            const qi = past + s;
            const allowed = (j: number) =>
              (!o.causal || j <= qi) && (!o.keyMask || mask[b * kvLength + j] === 1) && (o.slidingWindow === undefined || j > qi - o.slidingWindow);
            const w: number[] = [];
            for (let j = 0; j < kvLength; j++) {
              let dot = 0;
              for (let i = 0; i < d; i++) dot += q[((b * S + s) * nh + h) * d + i] * k[((b * T + j) * nkv + g) * d + i];
              w.push(allowed(j) ? Math.exp(dot * 0.7) : 0);
            }
            const z = w.reduce((a, c) => a + c, 0);
            for (let i = 0; i < d; i++) {
              let want = 0;
              for (let j = 0; j < kvLength; j++) want += (w[j] / (z || 1)) * v[((b * T + j) * nkv + g) * d + i];
              const have = got[((b * S + s) * nh + h) * d + i];
              assert.ok(Math.abs(have - want) < 1e-6, `${JSON.stringify(extra)} b${b} s${s} h${h}: ${have} vs ${want}`);
            }
          }
        }
      }
    }
    // Row 1 with keys 0..2 masked: its first query (index 2) sees no key at all and gives zeros.
    const o: AttentionOptions = { numHeads: nh, numKvHeads: nkv, headDim: d, scale: 1, kvLength, causal: { pastLength: past }, keyMask };
    const out = await read(be.attention(t(q, [B, S, nh * d]), t(k, [B, T, nkv * d]), t(v, [B, T, nkv * d]), o));
    assert.ok(out.subarray(S * nh * d, S * nh * d + nh * d).every((x) => x === 0));
  });

  test('layout ops: narrow, concat, expand, writeAt, embedding, scatterRows, add broadcast', async () => {
    const x = Float32Array.from({ length: 24 }, (_, i) => i);
    const n = await read(be.narrow(t(x, [2, 3, 4]), 1, 1, 2));
    assert.deepEqual(Array.from(n), [4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23]);
    const c = be.concat([t(Float32Array.from([1, 2, 3, 4]), [2, 2]), t(Float32Array.from([9, 8]), [2, 1])], 1);
    assert.deepEqual(c.dims, [2, 3]);
    assert.deepEqual(Array.from(await read(c)), [1, 2, 9, 3, 4, 8]);
    assert.deepEqual(Array.from(await read(be.expand(t(Float32Array.from([1, 2]), [1, 1, 2]), [3, 1, 2]))), [1, 2, 1, 2, 1, 2]);
    const cache = be.zeros([2, 4, 2]);
    be.writeAt(cache, t(Float32Array.from([1, 2, 3, 4]), [2, 1, 2]), 1, 2);
    assert.deepEqual(Array.from(await read(cache)), [0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 3, 4, 0, 0]);
    assert.throws(() => be.writeAt(cache, t(Float32Array.from([1, 2, 3, 4]), [2, 1, 2]), 1, 4), /exceeds/);
    const table = be.upload(new Tensor('float16', Uint16Array.from([1, 2, 3, 4, 5, 6], float32ToHalf), [3, 2]));
    assert.deepEqual(Array.from(await read(be.embedding(table, Int32Array.from([2, 0])))), [5, 6, 1, 2]);
    assert.throws(() => be.embedding(table, Int32Array.from([3])), /token id 3 is outside the vocabulary \(size 3\)/);
    const s = await read(be.scatterRows(t(new Float32Array(6), [3, 2]), Int32Array.from([0, 2]), t(Float32Array.from([1, 1, 2, 2]), [2, 2])));
    assert.deepEqual(Array.from(s), [1, 1, 0, 0, 2, 2]);
    assert.deepEqual(Array.from(await read(be.add(t(Float32Array.from([1, 2, 3, 4]), [2, 2]), t(Float32Array.from([10, 20]), [2])))), [11, 22, 13, 24]);
  });

  test('a tensor from another backend is refused', () => {
    const other = new ReferenceBackend();
    assert.throws(() => be.add(other.zeros([2]), be.zeros([2])), /a tensor of another backend instance/);
  });
});
