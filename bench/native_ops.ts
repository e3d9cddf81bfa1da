/**
 * The native engine's kernels on VipLlava-7B shapes, per weight format: GEMMs for prefill (626 rows) and the
 * vision tower (577 rows), GEMVs for decode (batch 1 and 4), and attention. Prints medians, GFLOP/s and
 * weight GB/s next to this machine's limits, measured at the start with every compute thread (FMA, bf16 and
 * int8 dot-product peaks; streaming read bandwidth).
 *
 *   npm run bench:native-ops [-- --threads N] [-- --only q8_0]
 */
import { parseArgs } from 'node:util';
import type { WeightDtype } from '../src/vocabulary.js';
import { weightFormat } from '../src/weights/formats.js';
import { NativeBackend } from '../src/backend/cpu/native_backend.node.js';
import { Tensor } from '../src/tensor/tensor.js';
import { float32ToHalf } from '../src/tensor/float16.js';
import { limitsLine, machine, peakFor, time } from './report.js';

const { values } = parseArgs({ options: { threads: { type: 'string' }, only: { type: 'string' }, runs: { type: 'string' } } });
const be = new NativeBackend({ threads: values.threads ? Number(values.threads) : undefined });
const runs = Number(values.runs ?? 5);

function halfMatrix(n: number, k: number): Tensor {
  const w = new Uint16Array(n * k);
  const table = Array.from({ length: 64 }, (_, i) => float32ToHalf((i - 32) / 640));
  for (let i = 0; i < w.length; i++) w[i] = table[(i * 2654435761) >>> 26];
  return new Tensor('float16', w, [n, k]);
}
const activations = (m: number, k: number) => be.fromHost(Float32Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.37)), [m, k]);

const FORMATS: Array<{ name: string; linear: WeightDtype; bytesPerWeight: number }> = [
  { name: 'f16 (fp32 compute)', linear: 'auto', bytesPerWeight: 2 },
  { name: 'bfloat16', linear: 'bfloat16', bytesPerWeight: 2 },
  { name: 'q8_0', linear: 'q8_0', bytesPerWeight: 34 / 32 },
  { name: 'q4_0', linear: 'q4_0', bytesPerWeight: 18 / 32 },
];
const SHAPES = [
  { name: 'prefill qkvo 626×4096×4096', m: 626, n: 4096, k: 4096 },
  { name: 'prefill up 626×11008×4096', m: 626, n: 11008, k: 4096 },
  { name: 'prefill down 626×4096×11008', m: 626, n: 4096, k: 11008 },
  { name: 'vision fc1 577×4096×1024', m: 577, n: 4096, k: 1024 },
  { name: 'decode up 1×11008×4096', m: 1, n: 11008, k: 4096 },
  { name: 'decode up 2×11008×4096', m: 2, n: 11008, k: 4096 },
  { name: 'decode up 4×11008×4096', m: 4, n: 11008, k: 4096 },
  { name: 'decode up 8×11008×4096', m: 8, n: 11008, k: 4096 },
];

async function main() {
  console.log(`machine: ${machine()}`);
  const limits = await be.limits(0.5);
  const info = be.info();
  console.log(`engine: native, kernels ${info.isa} (${info.instructions}), ${info.threads} threads; this CPU runs ${info.kernelSets.join(', ')}; medians of ${runs} runs after a warm-up`);
  console.log(`limits now: ${limitsLine(limits)}\n`);
  for (const f of FORMATS) {
    if (values.only && !f.name.startsWith(values.only)) continue;
    for (const s of SHAPES) {
      const w = be.upload(halfMatrix(s.n, s.k), weightFormat(f.linear, 'float16', { linear: true, quantize: 'always' }, false));
      const x = activations(s.m, s.k);
      const t = await time(async () => {
        be.linear(x, w);
        await be.flush();
      }, { warmup: 1, runs });
      const gflops = (2 * s.m * s.n * s.k) / t.median / 1e9;
      const gbs = (s.n * s.k * f.bytesPerWeight) / t.median / 1e9;
      const peak = peakFor(f.linear, limits);
      const bound = s.m <= 8 ? `${((100 * gbs) / limits.readGBs).toFixed(0)}% of read` : `${((100 * gflops) / peak.value).toFixed(0)}% of ${peak.name} peak`;
      console.log(`${f.name.padEnd(19)} ${s.name.padEnd(30)} ${(t.median * 1e3).toFixed(2).padStart(8)} ms  ${gflops.toFixed(0).padStart(5)} GFLOP/s  ${gbs.toFixed(1).padStart(5)} GB/s  (${bound})`);
    }
  }
  const attentionCases = [
    ['prefill attention 626 tokens, 32×128', 626, 0, 32, 128, 'float32'],
    ['prefill, fp16 KV cache', 626, 0, 32, 128, 'float16'],
    ['vision attention 577 tokens, 16×64', 577, -1, 16, 64, 'float32'],
    ['decode attention at 700, 32×128', 1, 699, 32, 128, 'float32'],
    ['decode, fp16 KV cache', 1, 699, 32, 128, 'float16'],
  ] as const;
  for (const [name, seq, past, heads, d, kvDtype] of attentionCases) {
    const kv = past >= 0 ? past + seq : seq;
    const q = activations(seq, heads * d);
    const cached = () => {
      const c = be.zeros([1, kv, heads * d], kvDtype); // as the KV cache holds them
      be.writeAt(c, be.reshape(activations(kv, heads * d), [1, kv, heads * d]), 1, 0);
      return c;
    };
    const k = cached();
    const v = cached();
    const qq = be.reshape(q, [1, seq, heads * d]);
    const t = await time(async () => {
      be.attention(qq, k, v, { numHeads: heads, numKvHeads: heads, headDim: d, scale: d ** -0.5, kvLength: kv, causal: past >= 0 ? { pastLength: past } : undefined });
      await be.flush();
    }, { warmup: 1, runs });
    const flop = 4 * heads * d * seq * (past >= 0 ? (past + (seq + 1) / 2) : kv);
    const kvGBs = (2 * kv * heads * d * (kvDtype === 'float16' ? 2 : 4)) / t.median / 1e9;
    console.log(`attention          ${name.padEnd(30)} ${(t.median * 1e3).toFixed(2).padStart(8)} ms  ${(flop / t.median / 1e9).toFixed(0).padStart(5)} GFLOP/s  ${kvGBs.toFixed(1).padStart(5)} GB/s of K and V`);
  }
}

await main();
