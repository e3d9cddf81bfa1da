/**
 * Every op of the native engine against the reference kernels, with each kernel set this CPU can run
 * (portable C++, AVX2, AVX-512), on shapes that are not multiples of the tile sizes. Budgets are normalised
 * errors (max |diff| / max |expected|) per weight format.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { AttentionOptions, Backend, DeviceTensor } from '../../src/backend/backend.js';
import type { WeightDtype, WeightFormat } from '../../src/vocabulary.js';
import { weightFormat } from '../../src/weights/formats.js';
import { NativeBackend } from '../../src/backend/cpu/native_backend.node.js';
import { nativeAddon, nativeFailure } from '../../src/backend/cpu/native_addon.node.js';
import { ReferenceBackend } from '../../src/backend/cpu/reference_backend.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { float32ToBfloat16, float32ToHalf, halfToFloat32 } from '../../src/tensor/float16.js';
import { relativeError } from '../helpers/compare.js';
import { ROOT, TINY_LLAMA } from '../helpers/fixtures.js';

const addon = nativeAddon();
assert.ok(addon, `the native addon did not load: ${nativeFailure()}`);
const ref = new ReferenceBackend();
const nat = new NativeBackend();
const best = nat.info().isa;
const kernelSets = nat.info().kernelSets; // every set this CPU runs (tests/backend/native_kernels.test.ts: the others)

let seed = 7;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
const randn = (n: number) => Float32Array.from({ length: n }, rand);
const weight = (dtype: 'float32' | 'float16' | 'bfloat16', n: number, k: number) => {
  const v = randn(n * k);
  if (dtype === 'float32') return new Tensor('float32', v, [n, k]);
  return new Tensor(dtype, Uint16Array.from(v, dtype === 'float16' ? float32ToHalf : float32ToBfloat16), [n, k]);
};

/** Runs `f` on both engines and returns the normalised error of the native result. */
async function compare(f: (be: Backend) => DeviceTensor): Promise<number> {
  const want = await ref.read(f(ref));
  const got = await nat.read(f(nat));
  assert.equal(got.length, want.length);
  return relativeError(got, want);
}

after(() => addon!.setKernels(best));

/** How a load with `dtype` holds a language-model linear weight like `w` (the loader's own resolution). */
const linearAs = (dtype: WeightDtype, w: Tensor) => weightFormat(dtype, w.dtype as 'float32' | 'float16' | 'bfloat16', { linear: true, quantize: 'always' }, false);

/** The reference engine holds float storage only: quantised formats compare against the exact weights. */
const refAs = (f: WeightFormat) => (f.storage === 'q8_0' || f.storage === 'q4_0' ? undefined : f);

/** Attention options with a key mask as host bytes, handed to each engine as its position inputs. */
type MaskedCase = Omit<AttentionOptions, 'keyMask'> & { keyMask?: Uint8Array };
const masked = (be: Backend, o: MaskedCase): AttentionOptions => ({ ...o, keyMask: o.keyMask && be.positionInputs({ keyMask: o.keyMask }) });

for (const isa of kernelSets) {
  describe(`native engine, ${isa} kernels`, () => {
    test('linear in every weight format, decode and prefill sizes, with and without bias', async () => {
      addon!.setKernels(isa);
      const budgets: Array<[WeightDtype, 'float32' | 'float16' | 'bfloat16', number]> = [
        ['auto', 'float32', 2e-6],
        ['auto', 'float16', 2e-6],
        ['auto', 'bfloat16', 2e-6],
        ['bfloat16', 'float32', 1.5e-2],
        ['q8_0', 'float16', 2e-2],
        ['q4_0', 'float16', 1.5e-1],
      ];
      for (const [format, dtype, budget] of budgets) {
        for (const [m, k, n] of [[1, 37, 45], [3, 64, 33], [9, 300, 70], [70, 517, 97]]) {
          const w = weight(dtype, n, k);
          const x = randn(m * k);
          const bias = randn(n);
          for (const withBias of [false, true]) {
            const err = await compare((be) => be.linear(be.fromHost(x, [m, k]), be.upload(w, be === nat ? linearAs(format, w) : refAs(linearAs(format, w))), withBias ? be.fromHost(bias, [n]) : null));
            assert.ok(err <= budget, `${format}/${dtype} m=${m} k=${k} n=${n}: ${err.toExponential(2)} > ${budget}`);
          }
        }
      }
      // without bf16 products the bfloat16 format computes in fp32 from bf16 storage: as exact as the fp32 path
      if (!nat.info().bf16dot) {
        const w32 = weight('float32', 70, 517);
        const rounded = new Tensor('bfloat16', Uint16Array.from(w32.data as Float32Array, float32ToBfloat16), [70, 517]);
        const x = randn(9 * 517);
        const err = await compare((be) => be.linear(be.fromHost(x, [9, 517]), be === nat ? be.upload(w32, linearAs('bfloat16', w32)) : be.upload(rounded)));
        assert.ok(err <= 2e-6, `bfloat16 on ${isa}: ${err.toExponential(2)}`);
      }
      // a weight uploaded without the linear hint is packed on first use
      const w = weight('float16', 40, 21);
      const x = randn(5 * 21);
      assert.ok((await compare((be) => be.linear(be.fromHost(x, [5, 21]), be.upload(w)))) <= 2e-6);
    });

    test('element-wise ops, norms, rope and layout ops', async () => {
      addon!.setKernels(isa);
      const x = randn(6 * 50);
      const y = randn(6 * 50);
      const w = randn(50);
      const b = randn(50);
      const X = (be: Backend) => be.fromHost(x, [2, 3, 50]);
      const checks: Array<[string, (be: Backend) => DeviceTensor, number]> = [
        ['add', (be) => be.add(X(be), be.fromHost(w, [50])), 0],
        ['add same shape', (be) => be.add(X(be), be.fromHost(y, [2, 3, 50])), 0],
        ['mul', (be) => be.mul(X(be), be.fromHost(y, [2, 3, 50])), 0],
        ['layerNorm', (be) => be.layerNorm(X(be), be.fromHost(w, [50]), be.fromHost(b, [50]), 1e-5), 1e-6],
        ['rmsNorm', (be) => be.rmsNorm(X(be), be.fromHost(w, [50]), 1e-6), 1e-6],
        ['rmsNorm fp16 weight', (be) => be.rmsNorm(X(be), be.upload(new Tensor('float16', Uint16Array.from(w, float32ToHalf), [50])), 1e-6), 1e-6],
        ['rope', (be) => be.rope(be.fromHost(x, [2, 3, 50]), be.positionInputs({ positions: Int32Array.of(0, 1, 7, 3, 900, 12), invFreq: Float32Array.of(1, 0.3, 0.1, 0.03, 0.01), ropeScaling: 1.25 }), 10), 1e-6],
        ['narrow', (be) => be.narrow(X(be), 1, 1, 2), 0],
        ['narrow last', (be) => be.narrow(X(be), 2, 7, 20), 0],
        ['concat', (be) => be.concat([X(be), be.fromHost(y, [2, 3, 50])], 1), 0],
        ['concat last (partial rotary: rotated and passed dims of each head)', (be) => be.concat([be.narrow(be.reshape(X(be), [2, 3, 5, 10]), 3, 0, 4), be.reshape(be.fromHost(y.subarray(0, 180), [2, 3, 30]), [2, 3, 5, 6])], 3), 0],
        ['expand', (be) => be.expand(be.fromHost(w, [1, 1, 50]), [2, 3, 50]), 0],
        ['indexSelect', (be) => be.indexSelect(X(be), Int32Array.of(1, 0, 1)), 0],
        ['embedding fp16', (be) => be.embedding(be.upload(new Tensor('float16', Uint16Array.from(x, float32ToHalf), [6, 50])), Int32Array.of(5, 0, 5, 2)), 0],
        ['embedding bf16', (be) => be.embedding(be.upload(new Tensor('bfloat16', Uint16Array.from(x, float32ToBfloat16), [6, 50])), Int32Array.of(1, 3)), 0],
        ['scatterRows', (be) => be.scatterRows(be.fromHost(x, [6, 50]), Int32Array.of(4, 1), be.fromHost(y.subarray(0, 100), [2, 50])), 0],
      ];
      for (const act of ['gelu', 'quick_gelu', 'silu', 'gelu_pytorch_tanh', 'gelu_new', 'relu'] as const) {
        checks.push([act, (be) => be.activation(be.fromHost(Float32Array.from(x, (v) => v * 6), [300]), act), 1e-6]);
      }
      for (const [name, f, budget] of checks) {
        const err = await compare(f);
        assert.ok(err <= budget, `${name}: ${err.toExponential(2)} > ${budget}`);
      }
      // writeAt in place
      for (const be of [ref, nat] as Backend[]) {
        const dst = be.zeros([2, 5, 50]);
        be.writeAt(dst, be.fromHost(y.subarray(0, 200), [2, 2, 50]), 1, 3);
        const got = await be.read(dst);
        assert.deepEqual(Array.from(got.subarray(150, 250)), Array.from(y.subarray(0, 100)));
        assert.deepEqual(Array.from(got.subarray(0, 150)), new Array(150).fill(0));
      }
    });

    test('attention: full, causal with a past, GQA, padding masks, sliding window, decode and prefill sizes', async () => {
      addon!.setKernels(isa);
      const cases: Array<{ batch: number; seq: number; rows: number } & AttentionOptions> = [
        { batch: 1, seq: 37, rows: 37, numHeads: 3, numKvHeads: 3, headDim: 20, scale: 20 ** -0.5, kvLength: 37 },
        { batch: 2, seq: 45, rows: 50, numHeads: 4, numKvHeads: 2, headDim: 16, scale: 0.25, kvLength: 48, causal: { pastLength: 3 } },
        { batch: 2, seq: 1, rows: 70, numHeads: 4, numKvHeads: 1, headDim: 48, scale: 0.1, kvLength: 66, causal: { pastLength: 65 } },
        { batch: 1, seq: 40, rows: 40, numHeads: 2, numKvHeads: 2, headDim: 36, scale: 0.2, kvLength: 40, causal: { pastLength: 0 }, slidingWindow: 9 },
        { batch: 2, seq: 3, rows: 30, numHeads: 2, numKvHeads: 2, headDim: 8, scale: 0.3, kvLength: 29, causal: { pastLength: 26 }, slidingWindow: 5 },
      ];
      for (const [i, c] of (cases as Array<MaskedCase & { batch: number; seq: number; rows: number }>).entries()) {
        const q = randn(c.batch * c.seq * c.numHeads * c.headDim);
        const k = randn(c.batch * c.rows * c.numKvHeads * c.headDim);
        const v = randn(k.length);
        const variants: MaskedCase[] = [c];
        if (c.causal) {
          // left padding: the first keys of row 0 masked (and, on row 0, whole query rows with nothing to see)
          const keyMask = new Uint8Array(c.batch * c.kvLength).fill(1);
          for (let t = 0; t < Math.min(5, c.kvLength); t++) keyMask[t] = 0;
          variants.push({ ...c, keyMask });
        }
        for (const o of variants) {
          for (const kvDtype of ['float32', 'float16'] as const) {
            // keys and values as a KV cache holds them: written into a zeros() buffer of that dtype
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
  });
}

describe('native engine', () => {
  test('a float16 KV cache rounds as torch .half() does; narrow and indexSelect keep it float16', async () => {
    const x = Float32Array.of(...randn(61).map((v) => v * 300), 1e-6, -7e-8, 65519, 70000, 0.1, 2049, 2051);
    const want = Float32Array.from(x, (v) => halfToFloat32(Uint16Array.of(float32ToHalf(v)))[0]);
    const results: Float32Array[] = [];
    for (const be of [ref, nat] as Backend[]) {
      const cache = be.zeros([2, 5, x.length], 'float16');
      be.writeAt(cache, be.fromHost(Float32Array.of(...x.map(() => 0), ...x), [2, 1, x.length]), 1, 3); // row 1, position 3
      const row = be.narrow(be.indexSelect(cache, Int32Array.of(1, 0, 1)), 1, 3, 1); // [3, 1, n]: old rows 1, 0, 1
      assert.equal(row.dtype, 'float16', be.name);
      const got = await be.read(row);
      assert.deepEqual(got.subarray(0, x.length), want, be.name);
      assert.ok(got.subarray(x.length, 2 * x.length).every((v) => v === 0), be.name);
      assert.deepEqual(got.subarray(2 * x.length), want, be.name);
      assert.throws(() => be.writeAt(cache, be.fromHost(x, [1, 1, x.length]), 1, 0), /writeAt: \[1, 1, 68\] does not fit \[2, 5, 68\] outside dim 1/, be.name);
      results.push(await be.read(cache));
    }
    assert.deepEqual(results[1], results[0]);
    assert.throws(() => nat.add(nat.zeros([2, 3], 'float16'), nat.zeros([2, 3])), /float16 KV-cache tensor can only be used by attention/);
  });

  test('reports its kernels and threads, and refuses bad input with the reference engine\'s messages', async () => {
    addon!.setKernels(best);
    const info = nat.info();
    assert.ok(info.kernelSets.includes(info.isa) && info.kernelSets.at(-1) === 'portable', JSON.stringify(info));
    if (!process.env.VIPLLAVA_ISA) assert.equal(info.isa, info.kernelSets[0]);
    assert.equal(info.bf16dot, info.isa === 'avx512' || info.isa === 'neon-i8mm');
    assert.ok(info.threads >= 1 && info.physicalCores >= 1);
    assert.throws(() => nat.embedding(nat.fromHost(randn(12), [3, 4]), Int32Array.of(3)), /token id 3 is outside the vocabulary \(size 3\)/);
    assert.throws(() => nat.linear(nat.fromHost(randn(6), [2, 3]), nat.upload(weight('float32', 4, 5), linearAs('auto', weight('float32', 4, 5)))), /does not match weight/);
    assert.throws(() => nat.fromHost(randn(5), [2, 3]), /5 values do not fill dims \[2, 3\]/);
    assert.throws(() => nat.add(nat.fromHost(randn(6), [2, 3]), nat.fromHost(randn(2), [2])), /does not broadcast/);
    assert.throws(() => nat.check({ parameters: [{ name: 'w', shape: [2], format: { storage: 'int4' as never, compute: 'float32', linear: false } }], activations: [] }), /cannot hold weights of dtype int4/);
    // packed weights read back exactly (float formats) or dequantised
    const w = weight('float16', 40, 70);
    const exact = await ref.read(ref.upload(w));
    assert.deepEqual(await nat.read(nat.upload(w, linearAs('auto', w))), exact);
    assert.ok(relativeError(await nat.read(nat.upload(w, linearAs('bfloat16', w))), exact) < 1e-2);
    assert.ok(relativeError(await nat.read(nat.upload(w, linearAs('q8_0', w))), exact) < 1e-2);
    assert.ok(relativeError(await nat.read(nat.upload(w, linearAs('q4_0', w))), exact) < 1.5e-1);
  });

  test('without the addon the library runs on the reference kernels and says so once', () => {
    const script = `
      import { VipLlavaForConditionalGeneration } from ${JSON.stringify(join(ROOT, 'dist/src/index.node.js'))};
      const a = await VipLlavaForConditionalGeneration.fromPretrained(${JSON.stringify(TINY_LLAMA)});
      const b = await VipLlavaForConditionalGeneration.fromPretrained(${JSON.stringify(TINY_LLAMA)});
      console.log(a.backend.name, b.backend.name);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, VIPLLAVA_NO_NATIVE: '1', VIPLLAVA_ENGINE: '', VIPLLAVA_DEVICE: '' } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'reference reference');
    assert.equal(r.stderr.match(/native CPU engine is not available \(disabled by \$VIPLLAVA_NO_NATIVE\)/g)?.length, 1, r.stderr);
  });

  test('$VIPLLAVA_ISA forces a kernel set the CPU runs and refuses one it cannot, naming those it runs', () => {
    const script = `import { nativeAddon, nativeFailure } from ${JSON.stringify(join(ROOT, 'dist/src/backend/cpu/native_addon.node.js'))};
      const a = nativeAddon();
      console.log(a ? a.info().isa : 'failed: ' + nativeFailure());`;
    const isa = (value: string) => spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, VIPLLAVA_ISA: value } }).stdout.trim();
    const { kernelSets } = nat.info();
    for (const set of kernelSets) assert.equal(isa(set), set);
    const runs = kernelSets.join(', ');
    assert.equal(isa('sse9'), `failed: $VIPLLAVA_ISA="sse9": no such kernel set in this build (it runs: ${runs})`);
    if (process.arch === 'x64' && !kernelSets.includes('avx512')) {
      assert.equal(isa('avx512'), `failed: $VIPLLAVA_ISA="avx512": this CPU cannot run those kernels (it runs: ${runs})`);
    }
  });

  test('ops return before the work is done; the event loop stays free while a large op runs', async () => {
    const n = 2048;
    const w = nat.upload(new Tensor('float32', new Float32Array(n * n).fill(0.5), [n, n]), { storage: 'float32', compute: 'float32', linear: true });
    const x = nat.fromHost(new Float32Array(256 * n).fill(0.25), [256, n]);
    const started = Date.now();
    const y = nat.linear(x, w); // enqueued: 2 GFLOP
    const enqueueMs = Date.now() - started;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await nat.read(y);
    clearInterval(timer);
    assert.ok(enqueueMs < 50, `enqueueing took ${enqueueMs} ms`);
    assert.ok(ticks > 0, 'no timer ran while the op was computing');
  });
});
