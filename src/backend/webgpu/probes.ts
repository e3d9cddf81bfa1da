/**
 * This GPU's limits as the engine's own shaders reach them, for the benchmarks' "fraction of the limit": f32 FMA
 * throughput (independent FMA chains per thread) and read bandwidth (a coalesced sum over a large buffer).
 */
import { FLAT_INDEX, THREADS, type Recorder, type Storage } from './recorder.js';

const CHAINS = 8;

const FMA = /* wgsl */ `
struct P { iters: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${FLAT_INDEX}
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  var a = array<f32, ${CHAINS}>();
  for (var c = 0u; c < ${CHAINS}u; c++) { a[c] = f32(i + c) * 1e-7; }
  for (var k = 0u; k < p.iters; k++) {
    for (var c = 0u; c < ${CHAINS}u; c++) { a[c] = fma(a[c], 0.9999, 1e-7); }
  }
  var s = 0.0;
  for (var c = 0u; c < ${CHAINS}u; c++) { s += a[c]; }
  y[i] = s;
}`;

const READ = /* wgsl */ `
struct P { n: u32, threads: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${FLAT_INDEX}
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  var s = vec4<f32>();
  for (var j = i; j < p.n; j += p.threads) { s += x[j]; }
  y[i] = s.x + s.y + s.z + s.w;
}`;

/** Floating-point operations (multiply and add counted apart) per second, over `groups` workgroups. */
export async function fmaRate(r: Recorder, scratch: Storage, groups: number, iters: number): Promise<number> {
  const run = async () => {
    const t0 = performance.now();
    r.dispatch(FMA, { label: 'probe fma', buffers: [scratch.buffer], params: [iters] }, groups);
    await r.flush();
    return (performance.now() - t0) / 1000;
  };
  await run();
  const seconds = Math.min(await run(), await run());
  return (2 * CHAINS * iters * groups * THREADS) / seconds;
}

/** Bytes read per second summing `bytes` of a buffer (at least twice the largest cache, for a true figure). */
export async function readRate(r: Recorder, src: Storage, out: Storage, bytes: number, groups: number): Promise<number> {
  const threads = groups * THREADS;
  const run = async () => {
    const t0 = performance.now();
    r.dispatch(READ, { label: 'probe read', buffers: [src.buffer, out.buffer], params: [bytes / 16, threads] }, groups);
    await r.flush();
    return (performance.now() - t0) / 1000;
  };
  await run();
  const seconds = Math.min(await run(), await run());
  return bytes / seconds;
}
