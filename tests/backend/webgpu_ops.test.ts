/**
 * Every op of the WebGPU engine against the reference kernels, on shapes that are not multiples of its tiles
 * (16) or workgroups (64), through whatever adapter Dawn finds here (Mesa's llvmpipe over OpenGL ES on the CI
 * machines). Budgets are normalised errors (max |diff| / max |expected|). Without an adapter the tests are
 * skipped, unless $VIPLLAVA_REQUIRE_WEBGPU is set (CI), where that is a failure.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { AttentionOptions, Backend, DeviceTensor } from '../../src/backend/backend.js';
import { ReferenceBackend } from '../../src/backend/cpu/reference_backend.js';
import { dawnDevice } from '../../src/backend/webgpu/dawn.node.js';
import { WebGPUBackend } from '../../src/backend/webgpu/webgpu_backend.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { float32ToBfloat16, float32ToHalf, halfToFloat32 } from '../../src/tensor/float16.js';
import { dequantize, quantize } from '../../src/weights/quantize.js';
import { relativeError } from '../helpers/compare.js';

const ref = new ReferenceBackend();
let gpu: WebGPUBackend | null = null;
let why = '';
try {
  const d = await dawnDevice();
  gpu = new WebGPUBackend(d.device, { adapterLabel: d.label });
} catch (e) {
  why = (e as Error).message;
  if (process.env.VIPLLAVA_REQUIRE_WEBGPU) throw e;
}
after(() => gpu?.device.destroy());

let seed = 11;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
const randn = (n: number) => Float32Array.from({ length: n }, rand);
const weight = (dtype: 'float32' | 'float16' | 'bfloat16', dims: number[]) => {
  const v = randn(dims.reduce((a, b) => a * b, 1));
  if (dtype === 'float32') return new Tensor('float32', v, dims);
  return new Tensor(dtype, Uint16Array.from(v, dtype === 'float16' ? float32ToHalf : float32ToBfloat16), dims);
};

async function compare(f: (be: Backend) => DeviceTensor): Promise<number> {
  const want = await ref.read(f(ref));
  const got = await gpu!.read(f(gpu!));
  assert.equal(got.length, want.length);
  return relativeError(got, want);
}

type MaskedCase = Omit<AttentionOptions, 'keyMask'> & { keyMask?: Uint8Array };
const masked = (be: Backend, o: MaskedCase): AttentionOptions => ({ ...o, keyMask: o.keyMask && be.positionInputs({ keyMask: o.keyMask }) });

describe(`webgpu engine${gpu ? ` (${gpu.describe()})` : ''}`, { skip: gpu ? false : `no WebGPU device: ${why}` }, () => {
  test('linear for float32, float16 and bfloat16 weights, decode and prefill sizes, with and without bias', async () => {
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
      for (const [m, k, n] of [[1, 37, 45], [3, 64, 33], [4, 1000, 77], [1, 2048, 9], [17, 300, 70], [70, 517, 97]]) {
        const w = weight(dtype, [n, k]);
        const x = randn(m * k);
        const bias = weight(dtype, [n]);
        for (const withBias of [false, true]) {
          const err = await compare((be) => be.linear(be.fromHost(x, [m, k]), be.upload(w), withBias ? be.upload(bias) : null));
          assert.ok(err <= 2e-6, `${dtype} m=${m} k=${k} n=${n}${withBias ? ' +bias' : ''}: ${err.toExponential(2)}`);
        }
      }
    }
  });

  test('linear for Q8_0 and Q4_0 weights: the blocks dequantised in the kernels, against the reference on the same dequantised weights', async () => {
    for (const dtype of ['q8_0', 'q4_0'] as const) {
      // K a multiple of 32 (the vector GEMV) and not (blocks zero-padded, one value per read)
      for (const [m, k, n] of [[1, 64, 45], [4, 320, 33], [2, 100, 19], [1, 4096, 9], [17, 288, 70], [70, 517, 97]]) {
        const w = weight('float16', [n, k]);
        const exact = new Tensor('float32', dequantize(quantize(w.toFloat32(), n, k, dtype)), [n, k]);
        const x = randn(m * k);
        const bias = weight('float32', [n]);
        const want = await ref.read(ref.linear(ref.fromHost(x, [m, k]), ref.upload(exact), ref.upload(bias)));
        const held = gpu!.upload(w, { storage: dtype, compute: 'int8', linear: true });
        assert.deepEqual(await gpu!.read(held), exact.toFloat32(), `${dtype} [${n}, ${k}] reads back as its dequantised blocks`);
        const got = await gpu!.read(gpu!.linear(gpu!.fromHost(x, [m, k]), held, gpu!.upload(bias)));
        const err = relativeError(got, want);
        assert.ok(err <= 5e-6, `${dtype} m=${m} k=${k} n=${n}: ${err.toExponential(2)}`);
      }
    }
    // the patch embedding's [hidden, 3, p, p] weight quantises as the [hidden, 3·p·p] matrix it multiplies by
    const p16 = weight('float16', [19, 3, 4, 4]);
    const pixels = randn(2 * 3 * 12 * 12);
    const exact = new Tensor('float32', dequantize(quantize(p16.toFloat32(), 19, 48, 'q8_0')), [19, 3, 4, 4]);
    const want = await ref.read(ref.patchEmbed(ref.fromHost(pixels, [2, 3, 12, 12]), ref.upload(exact)));
    const got = await gpu!.read(gpu!.patchEmbed(gpu!.fromHost(pixels, [2, 3, 12, 12]), gpu!.upload(p16, { storage: 'q8_0', compute: 'int8', linear: true })));
    assert.ok(relativeError(got, want) <= 5e-6);
    const q = gpu!.upload(p16, { storage: 'q4_0', compute: 'int8', linear: true });
    assert.throws(() => gpu!.add(q, q), /a q4_0 tensor is a linear layer's weight; only linear reads it/);
  });

  test('element-wise ops, activations, norms, rope, the patch embedding and layout ops', async () => {
    const x = randn(6 * 50);
    const y = randn(6 * 50);
    const w = randn(50);
    const b = randn(50);
    const X = (be: Backend) => be.fromHost(x, [2, 3, 50]);
    const [w16, g16, b16, p16] = [weight('float16', [3, 50]), weight('bfloat16', [333]), weight('bfloat16', [333]), weight('float16', [19, 3, 4, 4])];
    const [wide, pixels] = [randn(7 * 333), randn(2 * 3 * 12 * 12)];
    const checks: Array<[string, (be: Backend) => DeviceTensor, number]> = [
      ['add', (be) => be.add(X(be), be.fromHost(w, [50])), 0],
      ['add fp16 weight', (be) => be.add(X(be), be.upload(w16)), 0],
      ['mul', (be) => be.mul(X(be), be.fromHost(y, [2, 3, 50])), 0],
      ['layerNorm', (be) => be.layerNorm(X(be), be.fromHost(w, [50]), be.fromHost(b, [50]), 1e-5), 1e-6],
      ['layerNorm bf16', (be) => be.layerNorm(be.fromHost(wide, [7, 333]), be.upload(g16), be.upload(b16), 1e-5), 1e-6],
      ['rmsNorm', (be) => be.rmsNorm(X(be), be.fromHost(w, [50]), 1e-6), 1e-6],
      ['rmsNorm fp16 weight', (be) => be.rmsNorm(X(be), be.upload(new Tensor('float16', Uint16Array.from(w, float32ToHalf), [50])), 1e-6), 1e-6],
      ['rope', (be) => be.rope(X(be), be.positionInputs({ positions: Int32Array.of(0, 1, 7, 3, 900, 12), invFreq: Float32Array.of(1, 0.3, 0.1, 0.03, 0.01), ropeScaling: 1.25 }), 10), 1e-6],
      ['patchEmbed', (be) => be.patchEmbed(be.fromHost(pixels, [2, 3, 12, 12]), be.upload(p16)), 2e-6],
      ['narrow', (be) => be.narrow(X(be), 1, 1, 2), 0],
      ['narrow last', (be) => be.narrow(X(be), 2, 7, 20), 0],
      ['concat', (be) => be.concat([X(be), be.fromHost(y, [2, 3, 50])], 1), 0],
      ['concat last (partial rotary: rotated and passed dims of each head)', (be) => be.concat([be.narrow(be.reshape(X(be), [2, 3, 5, 10]), 3, 0, 4), be.reshape(be.fromHost(y.subarray(0, 180), [2, 3, 30]), [2, 3, 5, 6])], 3), 0],
      ['expand', (be) => be.expand(be.fromHost(w, [1, 1, 50]), [2, 3, 50]), 0],
      ['indexSelect', (be) => be.indexSelect(X(be), Int32Array.of(1, 0, 1)), 0],
      ['embedding fp16', (be) => be.embedding(be.upload(new Tensor('float16', Uint16Array.from(x, float32ToHalf), [6, 50])), Int32Array.of(5, 0, 5, 2)), 0],
      ['embedding bf16', (be) => be.embedding(be.upload(new Tensor('bfloat16', Uint16Array.from(x, float32ToBfloat16), [6, 50])), Int32Array.of(1, 3)), 0],
      // subnormal, smallest and largest normal halves, both signs, converted in the shader to the bit
      ['halves exactly', (be) => be.add(be.fromHost(new Float32Array(8), [8]), be.upload(new Tensor('float16', Uint16Array.of(0x0001, 0x03ff, 0x8001, 0x0400, 0x7bff, 0xfbff, 0x3c00, 0x83ff), [8]))), 0],
      ['scatterRows', (be) => be.scatterRows(be.fromHost(x, [6, 50]), Int32Array.of(4, 1), be.fromHost(y.subarray(0, 100), [2, 50])), 0],
    ];
    for (const act of ['gelu', 'quick_gelu', 'silu', 'gelu_pytorch_tanh', 'gelu_new', 'relu'] as const) {
      const ramp = Float32Array.from({ length: 333 }, (_, i) => (i - 166) / 12); // -13.8 … 13.8, through erf's ranges
      checks.push([act, (be) => be.activation(be.fromHost(ramp, [333]), act), 2e-6]);
    }
    for (const [name, f, budget] of checks) {
      const err = await compare(f);
      assert.ok(err <= budget, `${name}: ${err.toExponential(2)} > ${budget}`);
    }
    const dst = gpu!.zeros([2, 5, 50]);
    gpu!.writeAt(dst, gpu!.fromHost(y.subarray(0, 200), [2, 2, 50]), 1, 3);
    const got = await gpu!.read(dst);
    assert.deepEqual(Array.from(got.subarray(150, 250)), Array.from(y.subarray(0, 100)));
    assert.deepEqual(Array.from(got.subarray(0, 150)), new Array(150).fill(0));
  });

  test('attention: full, causal with a past, GQA, padding masks, sliding window, float32 and float16 caches', async () => {
    const cases: Array<{ batch: number; seq: number; rows: number } & MaskedCase> = [
      { batch: 1, seq: 37, rows: 37, numHeads: 3, numKvHeads: 3, headDim: 20, scale: 20 ** -0.5, kvLength: 37 },
      { batch: 2, seq: 45, rows: 150, numHeads: 4, numKvHeads: 2, headDim: 16, scale: 0.25, kvLength: 148, causal: { pastLength: 103 } },
      { batch: 2, seq: 1, rows: 70, numHeads: 4, numKvHeads: 1, headDim: 130, scale: 0.1, kvLength: 66, causal: { pastLength: 65 } },
      { batch: 1, seq: 40, rows: 40, numHeads: 2, numKvHeads: 2, headDim: 36, scale: 0.2, kvLength: 40, causal: { pastLength: 0 }, slidingWindow: 9 },
      // the language model's and the vision tower's head sizes; a head_dim that is no multiple of 4
      { batch: 1, seq: 70, rows: 70, numHeads: 2, numKvHeads: 2, headDim: 128, scale: 128 ** -0.5, kvLength: 70, causal: { pastLength: 0 } },
      { batch: 2, seq: 33, rows: 33, numHeads: 2, numKvHeads: 2, headDim: 64, scale: 0.125, kvLength: 33 },
      { batch: 1, seq: 21, rows: 30, numHeads: 3, numKvHeads: 1, headDim: 18, scale: 0.3, kvLength: 29, causal: { pastLength: 8 } },
      // decode over a long cache: keys split across workgroups, then combined
      { batch: 2, seq: 1, rows: 700, numHeads: 4, numKvHeads: 2, headDim: 64, scale: 0.125, kvLength: 650, causal: { pastLength: 649 } },
      { batch: 1, seq: 3, rows: 530, numHeads: 2, numKvHeads: 2, headDim: 40, scale: 0.15, kvLength: 520, causal: { pastLength: 517 }, slidingWindow: 300 },
    ];
    for (const [i, c] of cases.entries()) {
      const q = randn(c.batch * c.seq * c.numHeads * c.headDim);
      const k = randn(c.batch * c.rows * c.numKvHeads * c.headDim);
      const v = randn(k.length);
      const variants: MaskedCase[] = [c];
      if (c.causal) {
        const keyMask = new Uint8Array(c.batch * c.kvLength).fill(1);
        for (let t = 0; t < Math.min(70, c.kvLength); t++) keyMask[t] = 0; // row 0's first keys: some queries see none
        variants.push({ ...c, keyMask });
      }
      for (const o of variants) {
        for (const kvDtype of ['float32', 'float16'] as const) {
          const cached = (be: Backend, x: Float32Array) => {
            const dims = [c.batch, c.rows, c.numKvHeads * c.headDim];
            const buf = be.zeros(dims, kvDtype);
            be.writeAt(buf, be.fromHost(x, dims), 1, 0);
            return buf;
          };
          const err = await compare((be) => be.attention(be.fromHost(q, [c.batch, c.seq, c.numHeads * c.headDim]), cached(be, k), cached(be, v), masked(be, o)));
          assert.ok(err <= 2e-6, `case ${i}${o.keyMask ? ' masked' : ''}, ${kvDtype} cache: ${err.toExponential(2)}`);
        }
      }
    }
  });

  test('a float16 KV cache rounds to nearest even as the reference does; narrow, indexSelect and concat keep it float16', async () => {
    const x = Float32Array.of(...randn(61).map((v) => v * 300), 1e-6, -7e-8, 65519, 70000, 0.1, 2049, 2051);
    const want = Float32Array.from(x, (v) => halfToFloat32(Uint16Array.of(float32ToHalf(v)))[0]);
    const be = gpu!;
    const cache = be.zeros([2, 5, x.length], 'float16');
    be.writeAt(cache, be.fromHost(Float32Array.of(...x.map(() => 0), ...x), [2, 1, x.length]), 1, 3);
    const row = be.narrow(be.indexSelect(cache, Int32Array.of(1, 0, 1)), 1, 3, 1);
    assert.equal(row.dtype, 'float16');
    const got = await be.read(row);
    assert.deepEqual(got.subarray(0, x.length), want);
    assert.ok(got.subarray(x.length, 2 * x.length).every((v) => v === 0));
    assert.deepEqual(got.subarray(2 * x.length), want);
    const both = be.concat([cache, cache], 0);
    assert.equal(both.dtype, 'float16');
    assert.deepEqual(await be.read(both), Float32Array.of(...(await ref.read(ref.concat([await refCache(x), await refCache(x)], 0)))));
  });

  test('refuses bad input with the reference engine\'s messages', () => {
    const be = gpu!;
    assert.throws(() => be.embedding(be.fromHost(randn(12), [3, 4]), Int32Array.of(3)), /token id 3 is outside the vocabulary \(size 3\)/);
    assert.throws(() => be.linear(be.fromHost(randn(6), [2, 3]), be.upload(weight('float32', [4, 5]))), /does not match weight/);
    assert.throws(() => be.fromHost(randn(5), [2, 3]), /5 values do not fill dims \[2, 3\]/);
    assert.throws(() => be.add(be.fromHost(randn(6), [2, 3]), be.fromHost(randn(4), [4])), /does not broadcast/);
    assert.throws(() => be.check({ parameters: [{ name: 'norm.w', shape: [2], format: { storage: 'q8_0', compute: 'int8', linear: false } }], activations: [] }), /quantises only linear weights, not norm.w/);
    assert.throws(() => be.upload(weight('float32', [8]), { storage: 'q4_0', compute: 'int8', linear: true }), /quantises matrices, not a tensor of dims \[8\]/);
  });
});

/** The reference engine's float16 cache of the float16-cache test. */
async function refCache(x: Float32Array): Promise<DeviceTensor> {
  const cache = ref.zeros([2, 5, x.length], 'float16');
  ref.writeAt(cache, ref.fromHost(Float32Array.of(...x.map(() => 0), ...x), [2, 1, x.length]), 1, 3);
  return cache;
}
