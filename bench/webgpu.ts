/**
 * `npm run bench:webgpu`: the WebGPU engine's ops on VipLlava-7B shapes (--shapes 7b) or the same shapes scaled
 * down (--shapes tiny, the default, for CPU adapters such as llvmpipe): GEMMs for prefill (626 rows) and the vision
 * tower (577 rows), GEMVs for decode at batch 1 and 4, and attention; then the whole model (--model DIR, default the
 * shipped one): vision, a 626-token prefill where the context allows, decode at batch 1 and 4, time to first token.
 * Medians, with the fraction of this GPU's limits measured at the start by the engine's probes (f32 FMA, read
 * bandwidth). Wall time around a submission per op: on a CPU adapter the figures are a sanity check, not a speed
 * claim. tools/bench_torch_gpu.py runs transformers on the same shapes for the side-by-side ratio.
 *
 *   npm run bench:webgpu [-- --shapes 7b] [-- --dtype float16|float32|q8_0|q4_0] [-- --model DIR] [-- --runs N]
 *
 * With q8_0 / q4_0 the op weights are quantised from float16 ones and the model loads with that dtype (its
 * language model's linear weights quantised).
 */
import { parseArgs } from 'node:util';
import { dawnDevice } from '../src/backend/webgpu/dawn.node.js';
import { WebGPUBackend } from '../src/backend/webgpu/webgpu_backend.js';
import { DEFAULT_MODEL, VipLlavaForConditionalGeneration } from '../src/index.node.js';
import { Tensor } from '../src/tensor/tensor.js';
import { float32ToHalf, halfToFloat32 } from '../src/tensor/float16.js';
import { dequantize, quantize } from '../src/weights/quantize.js';
import { machine, time } from './report.js';

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'tiny' },
    dtype: { type: 'string', default: 'float16' },
    model: { type: 'string' },
    runs: { type: 'string', default: '5' },
    'no-model': { type: 'boolean', default: false },
    'no-ops': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const dtype = values.dtype as 'float16' | 'float32' | 'q8_0' | 'q4_0';
if (!['float16', 'float32', 'q8_0', 'q4_0'].includes(dtype)) throw new Error(`--dtype must be one of float16, float32, q8_0, q4_0, got "${dtype}"`);
const quantised = dtype === 'q8_0' || dtype === 'q4_0';
// 7B: hidden 4096, MLP 11008, 32 heads of 128, vocab 32000; vision 1024 wide, 16 heads of 64, MLP 4096
const S = values.shapes === '7b' ? { h: 4096, mlp: 11008, heads: 32, d: 128, vocab: 32000, vh: 1024, vheads: 16, vmlp: 4096 } : { h: 256, mlp: 688, heads: 4, d: 64, vocab: 4000, vh: 128, vheads: 2, vmlp: 512 };

const d = await dawnDevice();
const be = new WebGPUBackend(d.device, { adapterLabel: d.label });
console.log(`bench:webgpu — ${machine()}; ${be.describe()}; features: ${[...d.device.features].join(', ') || 'none'}`);
const limits = await be.limits(values.shapes === '7b' ? 1 : 0.25);
console.log(`limits now (engine probes): f32 FMA ${limits.fp32.toFixed(1)} GFLOP/s, read ${limits.readGBs.toFixed(1)} GB/s; ${values.shapes} shapes, ${dtype} weights, medians of ${runs} runs\n`);

/** A weight of small values from a table of 64 (filled in place: 7B's lm_head is 131 M of them). */
function matrix(n: number, k: number): Tensor {
  const table = Array.from({ length: 64 }, (_, i) => i / 640 - 0.05);
  const pick = (i: number) => table[Math.imul(i, 2654435761) >>> 26];
  if (dtype === 'float32') {
    const v = new Float32Array(n * k);
    for (let i = 0; i < v.length; i++) v[i] = pick(i);
    return new Tensor('float32', v, [n, k]);
  }
  const halves = table.map(float32ToHalf);
  const v = new Uint16Array(n * k);
  for (let i = 0; i < v.length; i++) v[i] = halves[Math.imul(i, 2654435761) >>> 26];
  return new Tensor('float16', v, [n, k]);
}
const rec = be.recorder;
/** GPU seconds per call of `op` run `n` times in one go, from timestamp queries; null where the device has none. */
async function gpuTime(op: () => void, n: number): Promise<number | null> {
  if (!rec.canProfile) return null;
  op();
  await be.flush();
  rec.startProfile();
  for (let i = 0; i < n; i++) op();
  const p = await rec.stopProfile();
  const total = Object.values(p).reduce((a, e) => a + e.seconds, 0);
  return total / n;
}
const gpuCell = (t: number | null) => (t === null ? '' : `${(t * 1e3).toFixed(3).padStart(8)} ms GPU`);
const hostActivations = (m: number, k: number) => Float32Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.37));
const activations = (m: number, k: number) => be.fromHost(hostActivations(m, k), [m, k]);
/** Bytes a weight reads per value: blocks of 32 carry a float16 scale. */
const bytesPerWeight = { float32: 4, float16: 2, q8_0: 34 / 32, q4_0: 18 / 32 }[dtype];
/**
 * The largest error of 64 sampled outputs of y = x·wᵀ against f64 dot products of the same values (the weight rows
 * quantised on the host as the upload quantises them), over the samples' root mean square: the kernels checked on
 * this GPU, whatever path they take.
 */
async function linearError(y: ReturnType<typeof be.linear>, xs: Float32Array, w: Tensor, m: number, n: number, k: number): Promise<number> {
  const out = await be.read(y);
  let worst = 0;
  let sq = 0;
  for (let s = 0; s < 64; s++) {
    const r = (Math.imul(s, 2654435761) >>> 0) % m;
    const c = (Math.imul(s + 17, 40503) >>> 0) % n;
    let row = w.dtype === 'float32' ? (w.data as Float32Array).subarray(c * k, (c + 1) * k) : halfToFloat32((w.data as Uint16Array).subarray(c * k, (c + 1) * k));
    if (quantised) row = dequantize(quantize(row, 1, k, dtype as 'q8_0' | 'q4_0'));
    let ref = 0;
    for (let i = 0; i < k; i++) ref += xs[r * k + i] * row[i];
    worst = Math.max(worst, Math.abs(out[r * n + c] - ref));
    sq += ref * ref;
  }
  return worst / Math.sqrt(sq / 64);
}
const uploadWeight = (t: Tensor) => (quantised ? be.upload(t, { storage: dtype, compute: 'int8', linear: true }) : be.upload(t));

if (!values['no-ops']) {
  const linears = [
    { name: `prefill qkvo 626×${S.h}×${S.h}`, m: 626, n: S.h, k: S.h },
    { name: `prefill up 626×${S.mlp}×${S.h}`, m: 626, n: S.mlp, k: S.h },
    { name: `prefill down 626×${S.h}×${S.mlp}`, m: 626, n: S.h, k: S.mlp },
    { name: `vision fc1 577×${S.vmlp}×${S.vh}`, m: 577, n: S.vmlp, k: S.vh },
    { name: `decode up 1×${S.mlp}×${S.h}`, m: 1, n: S.mlp, k: S.h },
    { name: `decode up 4×${S.mlp}×${S.h}`, m: 4, n: S.mlp, k: S.h },
    { name: `lm_head 1×${S.vocab}×${S.h}`, m: 1, n: S.vocab, k: S.h },
  ];
  console.log('op                                  median (wall) GFLOP/s   weight GB/s  (of the limit)   GPU time per call (timestamps), error (max / rms of 64 sampled outputs)');
  for (const s of linears) {
    const host = matrix(s.n, s.k);
    const w = uploadWeight(host);
    const xs = hostActivations(s.m, s.k);
    const x = be.fromHost(xs, [s.m, s.k]);
    const t = await time(async () => {
      be.release(be.linear(x, w));
      await be.flush();
    }, { warmup: 1, runs });
    const g = await gpuTime(() => be.release(be.linear(x, w)), 20);
    const secs = g ?? t.median; // the GPU's own time where it can say, else the wall time
    const gflops = (2 * s.m * s.n * s.k) / secs / 1e9;
    const gbs = (s.n * s.k * bytesPerWeight) / secs / 1e9;
    const of = s.m <= 4 ? `${((100 * gbs) / limits.readGBs).toFixed(0)}% of read` : `${((100 * gflops) / limits.fp32).toFixed(0)}% of FMA`;
    const y = be.linear(x, w);
    const err = await linearError(y, xs, host, s.m, s.n, s.k);
    be.release(y);
    console.log(`linear ${s.name.padEnd(29)} ${(t.median * 1e3).toFixed(2).padStart(9)} ms ${gflops.toFixed(1).padStart(9)} ${gbs.toFixed(1).padStart(11)}   (${of})  ${gpuCell(g)}  err ${err.toExponential(1)}`);
    be.release(w);
    be.release(x);
  }

  const attentions = [
    { name: `prefill 626, ${S.heads}×${S.d}`, seq: 626, kv: 626, heads: S.heads, d: S.d, past: 0 },
    { name: `vision 577, ${S.vheads}×64`, seq: 577, kv: 577, heads: S.vheads, d: 64, past: -1 },
    { name: `decode at 700, ${S.heads}×${S.d}`, seq: 1, kv: 700, heads: S.heads, d: S.d, past: 699 },
  ];
  for (const a of attentions) {
    for (const kvDtype of a.past > 0 ? (['float32', 'float16'] as const) : (['float32'] as const)) {
      const q = be.reshape(activations(a.seq, a.heads * a.d), [1, a.seq, a.heads * a.d]);
      const cache = be.zeros([1, a.kv, a.heads * a.d], kvDtype);
      be.writeAt(cache, be.reshape(activations(a.kv, a.heads * a.d), [1, a.kv, a.heads * a.d]), 1, 0);
      const op = () => be.release(be.attention(q, cache, cache, { numHeads: a.heads, numKvHeads: a.heads, headDim: a.d, scale: a.d ** -0.5, kvLength: a.kv, causal: a.past >= 0 ? { pastLength: a.past } : undefined }));
      const t = await time(async () => {
        op();
        await be.flush();
      }, { warmup: 1, runs });
      const g = await gpuTime(op, 10);
      const secs = g ?? t.median;
      const flop = 4 * a.heads * a.d * a.seq * (a.past >= 0 ? a.past + (a.seq + 1) / 2 : a.kv);
      const label = `${a.name}${a.past > 0 ? `, ${kvDtype} cache` : ''}`;
      console.log(`attention ${label.padEnd(26)} ${(t.median * 1e3).toFixed(2).padStart(9)} ms ${(flop / secs / 1e9).toFixed(1).padStart(9)}   (${((100 * flop) / secs / 1e9 / limits.fp32).toFixed(0)}% of FMA)  ${gpuCell(g)}`);
    }
  }
}

if (!values['no-model']) {
  const dir = values.model ?? DEFAULT_MODEL;
  const model = await VipLlavaForConditionalGeneration.fromPretrained(dir, { backend: be, ...(quantised ? { dtype } : {}) });
  const c = model.config;
  const side = c.vision_config.image_size;
  const pixels = new Tensor('float32', Float32Array.from({ length: 3 * side * side }, (_, k) => Math.sin(k) * 0.5), [1, 3, side, side]);
  const vision = await time(async () => {
    await model.backend.read(model.imageFeatures(pixels));
  }, { warmup: 1, runs });
  // time to first token with one image and 50 text tokens: the image's run of image tokens, then the text
  const withImage = [[1, ...new Array(c.imageTokensPerImage).fill(c.image_token_index), ...Array.from({ length: 50 }, (_, t) => 100 + t * 7)]];
  const ttftImage = await time(() => model.generate({ inputIds: withImage, pixelValues: pixels, maxNewTokens: 1 }), { warmup: 1, runs });
  const prompt = Math.min(626, c.text_config.max_position_embeddings - 40);
  const ids = (rows: number) => Array.from({ length: rows }, (_, r) => Array.from({ length: prompt }, (_, t) => 100 + ((t * 37 + r) % 900)));
  const ttft = await time(() => model.generate({ inputIds: ids(1), maxNewTokens: 1 }), { warmup: 1, runs });
  /** Aggregate decode tokens/s of `rows` rows: tokens after the first over the time from the first to the last. */
  const decode = async (rows: number) => {
    const rates: number[] = [];
    for (let run = 0; run < Math.min(3, runs); run++) {
      const stamps: number[] = [];
      for await (const _e of model.generateStream({ inputIds: ids(rows), maxNewTokens: 16, minNewTokens: 16 })) stamps.push(performance.now());
      rates.push(((stamps.length - rows) / (stamps.at(-1)! - stamps[rows - 1])) * 1000); // the first token of every row comes with the prefill
    }
    return rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)];
  };
  console.log(`\nmodel ${dir}`);
  console.log(`vision tower (1 image)        ${(vision.median * 1e3).toFixed(1).padStart(9)} ms`);
  console.log(`time to first token (image + 50) ${(ttftImage.median * 1e3).toFixed(1).padStart(9)} ms`);
  console.log(`time to first token (${prompt} text tokens) ${(ttft.median * 1e3).toFixed(1).padStart(9)} ms`);
  console.log(`decode batch 1                ${(await decode(1)).toFixed(1).padStart(9)} tok/s`);
  console.log(`decode batch 4                ${(await decode(4)).toFixed(1).padStart(9)} tok/s (aggregate)`);
  if (rec.canProfile) {
    // one decode step's dispatches by kind: GPU time from timestamps (one pass each while profiling)
    let n = 0;
    let profile: Awaited<ReturnType<typeof rec.stopProfile>> = {};
    for await (const _e of model.generateStream({ inputIds: ids(1), maxNewTokens: 3, minNewTokens: 3 })) {
      if (++n === 2) rec.startProfile(); // after the prefill's token: the next is one decode step
      else if (n === 3) profile = await rec.stopProfile();
    }
    const total = Object.values(profile).reduce((a, e) => a + e.seconds, 0);
    console.log(`\none decode step, GPU time by op (timestamp queries): ${(total * 1e3).toFixed(2)} ms in ${Object.values(profile).reduce((a, e) => a + e.calls, 0)} dispatches`);
    for (const [label, e] of Object.entries(profile).sort((a, b) => b[1].seconds - a[1].seconds)) {
      console.log(`  ${label.padEnd(28)} ${(e.seconds * 1e3).toFixed(3).padStart(9)} ms  ${String(e.calls).padStart(5)} calls  ${((100 * e.seconds) / total).toFixed(0).padStart(3)}%`);
    }
  }
}
d.device.destroy();
process.exit(0);
