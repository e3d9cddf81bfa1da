/**
 * The reference (plain TypeScript) engine on VipLlava-7B shapes: each named op's median time, its
 * GFLOP/s and weight GB/s, and the decode-token and vision-encode times they add up to. This is the
 * baseline the native and GPU engines are measured against.
 *
 *   npm run bench:ops
 */
import { ReferenceBackend } from '../src/backend/cpu/reference_backend.js';
import { Tensor } from '../src/tensor/tensor.js';
import { float32ToHalf } from '../src/tensor/float16.js';
import { fmt, machine, time, type Timing } from './report.js';

const be = new ReferenceBackend();
const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
const halfWeight = (out: number, inp: number) => {
  const w = new Uint16Array(out * inp);
  const h = float32ToHalf(0.01);
  w.fill(h);
  return be.upload(new Tensor('float16', w, [out, inp]));
};

interface Shape { name: string; m: number; n: number; k: number; perLayer: number; phase: 'decode' | 'vision' }
// Rows m of activations times a [n, k] fp16 weight. perLayer: how often the shape occurs per layer.
const SHAPES: Shape[] = [
  { name: 'llama_decode_qkvo_4096x4096', m: 1, n: 4096, k: 4096, perLayer: 4, phase: 'decode' },
  { name: 'llama_decode_gate_up_11008x4096', m: 1, n: 11008, k: 4096, perLayer: 2, phase: 'decode' },
  { name: 'llama_decode_down_4096x11008', m: 1, n: 4096, k: 11008, perLayer: 1, phase: 'decode' },
  { name: 'lm_head_32064x4096', m: 1, n: 32064, k: 4096, perLayer: 0, phase: 'decode' },
  { name: 'clip_qkvo_577x1024', m: 577, n: 1024, k: 1024, perLayer: 4, phase: 'vision' },
  { name: 'clip_fc1_577x4096', m: 577, n: 4096, k: 1024, perLayer: 1, phase: 'vision' },
  { name: 'clip_fc2_577x1024x4096', m: 577, n: 1024, k: 4096, perLayer: 1, phase: 'vision' },
];

async function main() {
  console.log(`machine: ${machine()}`);
  console.log('engine: reference (plain TypeScript, fp16 weights widened per row, fp32 compute)\n');
  const results = new Map<string, Timing>();
  for (const s of SHAPES) {
    const w = halfWeight(s.n, s.k);
    const x = be.fromHost(rand(s.m * s.k), [s.m, s.k]);
    const t = await time(() => be.read(be.linear(x, w)), { warmup: 1, runs: s.m > 1 ? 3 : 5 });
    results.set(s.name, t);
    const gflops = (2 * s.m * s.n * s.k) / t.median / 1e9;
    const gbs = (s.n * s.k * 2) / t.median / 1e9;
    const bandwidth = s.m === 1 ? `  ${gbs.toFixed(2)} GB/s of weights` : ''; // decode shapes stream weights
    console.log(`${s.name.padEnd(34)} ${fmt(t)}  ${gflops.toFixed(2)} GFLOP/s${bandwidth}`);
  }
  // Attention of one decode token over 626 cached positions, 32 heads of 128.
  const kv = be.fromHost(rand(626 * 4096), [1, 626, 4096]);
  const q = be.fromHost(rand(4096), [1, 1, 4096]);
  const att = await time(() => be.read(be.attention(q, kv, kv, { numHeads: 32, numKvHeads: 32, headDim: 128, scale: 128 ** -0.5, kvLength: 626, causal: { pastLength: 625 } })));
  console.log(`${'llama_decode_attention_626'.padEnd(34)} ${fmt(att)}`);
  const q577 = be.fromHost(rand(577 * 1024), [1, 577, 1024]);
  const catt = await time(() => be.read(be.attention(q577, q577, q577, { numHeads: 16, numKvHeads: 16, headDim: 64, scale: 0.125, kvLength: 577 })), { runs: 3 });
  console.log(`${'clip_attention_577'.padEnd(34)} ${fmt(catt)}`);

  const sum = (phase: Shape['phase']) => SHAPES.filter((s) => s.phase === phase).reduce((a, s) => a + s.perLayer * results.get(s.name)!.median, 0);
  const decode = 32 * (sum('decode') + att.median) + results.get('lm_head_32064x4096')!.median;
  const vision = 23 * (sum('vision') + catt.median);
  console.log(`\nestimated from the medians above (matmuls and attention only; norms, RoPE and copies excluded):`);
  console.log(`  7B decode, one token at 626 positions: ${decode.toFixed(1)} s  (${(1 / decode).toFixed(3)} tok/s; 13.2 GB of fp16 weights → ${(13.2 / decode).toFixed(2)} GB/s)`);
  console.log(`  CLIP ViT-L/14-336 encode, 23 layers: ${vision.toFixed(1)} s`);
}

await main();
