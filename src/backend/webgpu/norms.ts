/** LayerNorm and RMSNorm over the last dim: one workgroup per row, sums reduced in workgroup memory. */
import { f32Bits, rowGrid, type Recorder } from './recorder.js';
import { helpers, reader, type GpuDtype } from './wgsl.js';

const T = 256;

/** A workgroup's sum of v (every thread gets it), in workgroup array `part`: one array per sum, so that no thread can overwrite a sum another is still reading. */
const reduce = (part: string) => /* wgsl */ `
var<workgroup> ${part}: array<f32, ${T}>;
fn sum_${part}(v: f32, lid: u32) -> f32 {
  ${part}[lid] = v;
  workgroupBarrier();
  for (var s = ${T / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { ${part}[lid] = ${part}[lid] + ${part}[lid + s]; }
    workgroupBarrier();
  }
  return ${part}[0];
}`;

function norm(body: string, w: GpuDtype, b: GpuDtype | null): string {
  return /* wgsl */ `
struct P { h: u32, rows: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${helpers(w, ...(b ? [b] : []))}
${reader('w', 3, w)}
${b ? reader('b', 4, b) : ''}
${reduce('first')}
${reduce('second')}
@compute @workgroup_size(${T})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * 65535u + wid.x;
  if (row >= p.rows) { return; }
  let o = row * p.h;
${body}
}`;
}

const LAYER = /* wgsl */ `
  var s = 0.0;
  for (var i = lid; i < p.h; i += ${T}u) { s += x[o + i]; }
  let mean = sum_first(s, lid) / f32(p.h);
  var q = 0.0;
  for (var i = lid; i < p.h; i += ${T}u) { let d = x[o + i] - mean; q += d * d; }
  let inv = 1.0 / sqrt(sum_second(q, lid) / f32(p.h) + p.eps);
  for (var i = lid; i < p.h; i += ${T}u) { y[o + i] = (x[o + i] - mean) * inv * w_at(i) + b_at(i); }`;

const RMS = /* wgsl */ `
  var s = 0.0;
  for (var i = lid; i < p.h; i += ${T}u) { s += x[o + i] * x[o + i]; }
  let inv = 1.0 / sqrt(sum_first(s, lid) / f32(p.h) + p.eps);
  for (var i = lid; i < p.h; i += ${T}u) { y[o + i] = (x[o + i] * inv) * w_at(i); }`;

export function layerNorm(r: Recorder, y: GPUBuffer, x: GPUBuffer, w: { buffer: GPUBuffer; dtype: GpuDtype }, b: { buffer: GPUBuffer; dtype: GpuDtype }, rows: number, h: number, eps: number): void {
  r.dispatch(norm(LAYER, w.dtype, b.dtype), { label: 'layerNorm', buffers: [x, y, w.buffer, b.buffer], params: [h, rows, f32Bits(eps)] }, rowGrid(rows));
}

export function rmsNorm(r: Recorder, y: GPUBuffer, x: GPUBuffer, w: { buffer: GPUBuffer; dtype: GpuDtype }, rows: number, h: number, eps: number): void {
  r.dispatch(norm(RMS, w.dtype, null), { label: 'rmsNorm', buffers: [x, y, w.buffer], params: [h, rows, f32Bits(eps)] }, rowGrid(rows));
}
