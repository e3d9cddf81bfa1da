/**
 * Data movement, as 32-bit words whatever the dtype (f32 values, or two halves of a float16 KV cache): runs of
 * words copied between strided places (narrow, writeAt, concat, expand), rows gathered and scattered by index
 * (indexSelect, embedding, scatterRows), f32 rows rounded into a half cache, and im2col for the patch embedding.
 */
import { FLAT_INDEX, THREADS, type Recorder } from './recorder.js';
import { F32_TO_HALF, helpers, reader, type GpuDtype } from './wgsl.js';

const MAIN = `@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);`;

/** Where a strided copy reads and writes: `outer` runs of `run` units, `stride` units apart, from `offset`. */
export interface Runs {
  outer: number;
  run: number;
  src: { offset: number; stride: number };
  dst: { offset: number; stride: number };
}

/** The parameters of a strided copy (Runs). */
const RUNS = /* wgsl */ `
struct P { outer: u32, run: u32, s_off: u32, s_stride: u32, d_off: u32, d_stride: u32 }
@group(0) @binding(0) var<uniform> p: P;
`;

const COPY = /* wgsl */ `
${RUNS}
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
${FLAT_INDEX}
${MAIN}
  if (i >= p.outer * p.run) { return; }
  let o = i / p.run;
  let e = i % p.run;
  dst[p.d_off + o * p.d_stride + e] = src[p.s_off + o * p.s_stride + e];
}`;

/** Copies words (units: 32-bit words). */
export function copyRuns(r: Recorder, dst: GPUBuffer, src: GPUBuffer, c: Runs): void {
  const n = c.outer * c.run;
  if (n > 0) r.dispatch(COPY, { label: 'copy', buffers: [src, dst], params: [c.outer, c.run, c.src.offset, c.src.stride, c.dst.offset, c.dst.stride] }, Math.ceil(n / THREADS));
}

const TO_HALF = /* wgsl */ `
${RUNS}
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
${FLAT_INDEX}
${F32_TO_HALF}
${MAIN}
  if (i >= p.outer * p.run) { return; }
  let o = i / p.run;
  let e = i % p.run;
  let s = p.s_off + o * p.s_stride + 2u * e;
  dst[p.d_off + o * p.d_stride + e] = f32_to_half(src[s]) | (f32_to_half(src[s + 1u]) << 16u);
}`;

/** f32 runs rounded into a half tensor: `run` is in destination words (2 values), source offsets in values. */
export function halfRuns(r: Recorder, dst: GPUBuffer, src: GPUBuffer, c: Runs): void {
  const n = c.outer * c.run;
  if (n > 0) r.dispatch(TO_HALF, { label: 'copy to half', buffers: [src, dst], params: [c.outer, c.run, c.src.offset, c.src.stride, c.dst.offset, c.dst.stride] }, Math.ceil(n / THREADS));
}

const MOVE_ROWS = (gather: boolean) => /* wgsl */ `
struct P { rows: u32, width: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> index: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;
${FLAT_INDEX}
${MAIN}
  if (i >= p.rows * p.width) { return; }
  let j = i / p.width;
  let e = i % p.width;
  ${gather ? 'dst[j * p.width + e] = src[index[j] * p.width + e];' : 'dst[index[j] * p.width + e] = src[j * p.width + e];'}
}`;

/** dst row j = src row index[j] (rows of `width` words). */
export function gatherRows(r: Recorder, dst: GPUBuffer, src: GPUBuffer, index: GPUBuffer, rows: number, width: number): void {
  if (rows * width > 0) r.dispatch(MOVE_ROWS(true), { label: 'gather rows', buffers: [src, index, dst], params: [rows, width] }, Math.ceil((rows * width) / THREADS));
}

/** dst row index[j] = src row j (rows of `width` words). */
export function scatterRows(r: Recorder, dst: GPUBuffer, src: GPUBuffer, index: GPUBuffer, rows: number, width: number): void {
  if (rows * width > 0) r.dispatch(MOVE_ROWS(false), { label: 'scatter rows', buffers: [src, index, dst], params: [rows, width] }, Math.ceil((rows * width) / THREADS));
}

/** Rows of an embedding table [V, h] of any stored dtype picked by ids, as f32 [ids, h]. */
export function embedding(r: Recorder, dst: GPUBuffer, table: { buffer: GPUBuffer; dtype: GpuDtype }, ids: GPUBuffer, rows: number, h: number): void {
  const code = /* wgsl */ `
struct P { rows: u32, h: u32 }
@group(0) @binding(0) var<uniform> p: P;
${helpers(table.dtype)}
${reader('table', 1, table.dtype)}
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${FLAT_INDEX}
${MAIN}
  if (i >= p.rows * p.h) { return; }
  let j = i / p.h;
  y[i] = table_at(ids[j] * p.h + i % p.h);
}`;
  if (rows * h > 0) r.dispatch(code, { label: 'embedding', buffers: [table.buffer, ids, dst], params: [rows, h] }, Math.ceil((rows * h) / THREADS));
}

const IM2COL = /* wgsl */ `
struct P { images: u32, channels: u32, size: u32, psize: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${FLAT_INDEX}
${MAIN}
  let side = p.size / p.psize;
  let len = p.channels * p.psize * p.psize;
  let total = p.images * side * side * len;
  if (i >= total) { return; }
  // i = ((n · side + py) · side + px) · len + (c · psize + ky) · psize + kx
  let col = i % len;
  let row = i / len;
  let kx = col % p.psize;
  let ky = (col / p.psize) % p.psize;
  let c = col / (p.psize * p.psize);
  let px = row % side;
  let py = (row / side) % side;
  let n = row / (side * side);
  y[i] = x[((n * p.channels + c) * p.size + py * p.psize + ky) * p.size + px * p.psize + kx];
}`;

/** pixels [N, C, S, S] → one row per patch [N·(S/p)², C·p²], columns (channel, ky, kx). */
export function im2col(r: Recorder, dst: GPUBuffer, pixels: GPUBuffer, g: { images: number; channels: number; size: number; patch: number; patches: number; patchLen: number }): void {
  const n = g.images * g.patches * g.patchLen;
  r.dispatch(IM2COL, { label: 'im2col', buffers: [pixels, dst], params: [g.images, g.channels, g.size, g.patch] }, Math.ceil(n / THREADS));
}

/** y = x as f32, for a float16 or bfloat16 tensor of n elements. */
export function widen(r: Recorder, dst: GPUBuffer, x: { buffer: GPUBuffer; dtype: GpuDtype }, n: number): void {
  const code = /* wgsl */ `
struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
${helpers(x.dtype)}
${reader('x', 1, x.dtype)}
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${FLAT_INDEX}
${MAIN}
  if (i >= p.n) { return; }
  y[i] = x_at(i);
}`;
  if (n > 0) r.dispatch(code, { label: 'widen', buffers: [x.buffer, dst], params: [n] }, Math.ceil(n / THREADS));
}
