/**
 * This GPU's limits as the engine's own shaders reach them, for the benchmarks' "fraction of the limit": f32 FMA
 * throughput (independent FMA chains per thread) and read bandwidth (a coalesced sum over a large buffer), timed
 * by the GPU's timestamps where it has them.
 */
import { FLAT_INDEX, THREADS, type Recorder, type Storage } from './recorder.js';

/** Independent FMA chains per thread: two vec4 accumulators (no arrays, which a compiler may keep in memory). */
const CHAINS = 8;

const FMA = /* wgsl */ `
struct P { iters: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${FLAT_INDEX}
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  var a = vec4<f32>(f32(i), f32(i + 1u), f32(i + 2u), f32(i + 3u)) * 1e-7;
  var b = a + vec4<f32>(1e-7);
  let m = vec4<f32>(0.9999);
  let c = vec4<f32>(1e-7);
  for (var k = 0u; k < p.iters; k++) {
    a = fma(a, m, c);
    b = fma(b, m, c);
    a = fma(a, m, c);
    b = fma(b, m, c);
  }
  y[i] = dot(a + b, vec4<f32>(1.0));
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

/** Seconds of one dispatch: the GPU's own time from timestamp queries where it has them, else the wall time. */
async function timed(r: Recorder, dispatch: () => void): Promise<number> {
  if (r.canProfile) {
    r.startProfile();
    dispatch();
    const p = await r.stopProfile();
    return Object.values(p).reduce((a, e) => a + e.seconds, 0);
  }
  const t0 = performance.now();
  dispatch();
  await r.flush();
  return (performance.now() - t0) / 1000;
}

/** Floating-point operations (multiply and add counted apart) per second, over `groups` workgroups. */
export async function fmaRate(r: Recorder, scratch: Storage, groups: number, iters: number): Promise<number> {
  const run = () => timed(r, () => r.dispatch(FMA, { label: 'probe fma', buffers: [scratch.buffer], params: [iters] }, groups));
  await run();
  const seconds = Math.min(await run(), await run());
  return (2 * CHAINS * 2 * iters * groups * THREADS) / seconds; // two rounds of the 8 chains per iteration
}

/** Bytes read per second summing `bytes` of a buffer (at least twice the largest cache, for a true figure). */
export async function readRate(r: Recorder, src: Storage, out: Storage, bytes: number, groups: number): Promise<number> {
  const threads = groups * THREADS;
  const run = () => timed(r, () => r.dispatch(READ, { label: 'probe read', buffers: [src.buffer, out.buffer], params: [bytes / 16, threads] }, groups));
  await run();
  const seconds = Math.min(await run(), await run());
  return bytes / seconds;
}
