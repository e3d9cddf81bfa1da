/**
 * y [M, N] = x [M, K] · w [N, K]ᵀ (+ bias [N]) for weights in f32, float16 or bfloat16, f32 accumulation.
 * - GEMV (M ≤ GEMV_ROWS, decode): a workgroup of 256 threads per 8 output features, 32 threads to a feature,
 *   each reading 16 bytes of its weight row at a time (8 halves or 4 floats; consecutive threads, consecutive
 *   bytes), partial sums reduced in workgroup memory. Where K is not a multiple of the vector, a slower variant
 *   with one value per read: 64 threads split K for 8 features.
 * - GEMM (prefill, the vision tower): a workgroup per 64 × 64 outputs, 16 × 16 threads of 4 × 4 outputs each,
 *   with 16-wide slices of x and w staged in workgroup memory.
 */
import { rowGrid, type Recorder } from './recorder.js';
import { helpers, reader, unpackHalf, type GpuDtype } from './wgsl.js';

export const GEMV_ROWS = 4;
const COLS = 8;
const THREADS = 64;
const TILE = 64;
const KT = 16;

function head(w: GpuDtype, bias: GpuDtype | null): string {
  return /* wgsl */ `
struct P { m: u32, n: u32, k: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${helpers(w, ...(bias ? [bias] : []))}
${reader('w', 3, w)}
${bias ? reader('bias', 4, bias) : ''}`;
}

function gemv(w: GpuDtype, bias: GpuDtype | null, m: number): string {
  return /* wgsl */ `${head(w, bias)}
var<workgroup> part: array<f32, ${THREADS * COLS * m}>;
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c0 = (wid.y * 65535u + wid.x) * ${COLS}u;
  var acc: array<f32, ${COLS * m}>;
  for (var kk = lid; kk < p.k; kk += ${THREADS}u) {
    var xv: array<f32, ${m}>;
    for (var r = 0u; r < ${m}u; r++) { xv[r] = x[r * p.k + kk]; }
    for (var c = 0u; c < ${COLS}u; c++) {
      let col = min(c0 + c, p.n - 1u);
      let wv = w_at(col * p.k + kk);
      for (var r = 0u; r < ${m}u; r++) { acc[r * ${COLS}u + c] = fma(xv[r], wv, acc[r * ${COLS}u + c]); }
    }
  }
  for (var j = 0u; j < ${COLS * m}u; j++) { part[j * ${THREADS}u + lid] = acc[j]; }
  workgroupBarrier();
  for (var s = ${THREADS / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      for (var j = 0u; j < ${COLS * m}u; j++) { part[j * ${THREADS}u + lid] += part[j * ${THREADS}u + lid + s]; }
    }
    workgroupBarrier();
  }
  if (lid < ${COLS * m}u) {
    let r = lid / ${COLS}u;
    let col = c0 + lid % ${COLS}u;
    if (col < p.n) { y[r * p.n + col] = part[lid * ${THREADS}u]${bias ? ' + bias_at(col)' : ''}; }
  }
}`;
}

/** Values of one 16-byte weight read: 8 halves or 4 floats. */
const perVector = (w: GpuDtype) => (w === 'float32' ? 4 : 8);

function gemvVector(w: GpuDtype, bias: GpuDtype | null, m: number): string {
  const v = perVector(w);
  // the 8 (or 4) weights of read j as vec4s, and their products with row r's x
  const weights =
    w === 'float32'
      ? 'let wa = wq;'
      : `let wa = vec4<f32>(${unpackHalf(w, 'wq.x & 0xffffu')}, ${unpackHalf(w, 'wq.x >> 16u')}, ${unpackHalf(w, 'wq.y & 0xffffu')}, ${unpackHalf(w, 'wq.y >> 16u')});
    let wb = vec4<f32>(${unpackHalf(w, 'wq.z & 0xffffu')}, ${unpackHalf(w, 'wq.z >> 16u')}, ${unpackHalf(w, 'wq.w & 0xffffu')}, ${unpackHalf(w, 'wq.w >> 16u')});`;
  const products = w === 'float32' ? 'dot(x[xo], wa)' : 'dot(x[xo], wa) + dot(x[xo + 1u], wb)';
  return /* wgsl */ `
struct P { m: u32, n: u32, k: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<vec4<${w === 'float32' ? 'f32' : 'u32'}>>;
${helpers(w, ...(bias ? [bias] : []))}
${bias ? reader('bias', 4, bias) : ''}
var<workgroup> part: array<f32, ${256 * m}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = lid / 32u;
  let t = lid % 32u;
  let col = (wid.y * 65535u + wid.x) * 8u + c;
  let row = min(col, p.n - 1u);
  let reads = p.k / ${v}u;
  var acc: array<f32, ${m}>;
  for (var j = t; j < reads; j += 32u) {
    let wq = w[row * reads + j];
    ${weights}
    for (var r = 0u; r < ${m}u; r++) {
      let xo = (r * p.k) / 4u + j * ${v / 4}u;
      acc[r] += ${products};
    }
  }
  for (var r = 0u; r < ${m}u; r++) { part[r * 256u + lid] = acc[r]; }
  workgroupBarrier();
  for (var s = 16u; s > 0u; s = s >> 1u) {
    if (t < s) {
      for (var r = 0u; r < ${m}u; r++) { part[r * 256u + lid] += part[r * 256u + lid + s]; }
    }
    workgroupBarrier();
  }
  if (t == 0u && col < p.n) {
    for (var r = 0u; r < ${m}u; r++) { y[r * p.n + col] = part[r * 256u + lid]${bias ? ' + bias_at(col)' : ''}; }
  }
}`;
}

function gemm(w: GpuDtype, bias: GpuDtype | null): string {
  return /* wgsl */ `${head(w, bias)}
var<workgroup> xs: array<array<f32, ${KT}>, ${TILE}>;
var<workgroup> ws: array<array<f32, ${KT}>, ${TILE}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let r0 = wid.y * ${TILE}u;
  let c0 = wid.x * ${TILE}u;
  var acc: array<array<f32, 4>, 4>;  // rows r0 + ty + 16i, columns c0 + tx + 16j
  for (var k0 = 0u; k0 < p.k; k0 += ${KT}u) {
    // 256 threads stage 64 × 16 of x and of w, four values each
    for (var e = 0u; e < 4u; e++) {
      let flat = li + e * 256u;
      let rr = flat / ${KT}u;
      let kk = k0 + flat % ${KT}u;
      xs[rr][flat % ${KT}u] = select(0.0, x[(r0 + rr) * p.k + kk], r0 + rr < p.m && kk < p.k);
      ws[rr][flat % ${KT}u] = select(0.0, w_at((c0 + rr) * p.k + kk), c0 + rr < p.n && kk < p.k);
    }
    workgroupBarrier();
    for (var t = 0u; t < ${KT}u; t++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = xs[lid.y + 16u * i][t]; b[i] = ws[lid.x + 16u * i][t]; }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let row = r0 + lid.y + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let col = c0 + lid.x + 16u * j;
      if (row < p.m && col < p.n) { y[row * p.n + col] = acc[i][j]${bias ? ' + bias_at(col)' : ''}; }
    }
  }
}`;
}

export function linear(
  r: Recorder,
  y: GPUBuffer,
  x: GPUBuffer,
  w: { buffer: GPUBuffer; dtype: GpuDtype },
  bias: { buffer: GPUBuffer; dtype: GpuDtype } | null,
  m: number,
  n: number,
  k: number,
): void {
  const buffers = [x, y, w.buffer, ...(bias ? [bias.buffer] : [])];
  if (m === 0 || n === 0) return;
  if (m <= GEMV_ROWS) {
    const groups = Math.ceil(n / COLS);
    const vector = k % perVector(w.dtype) === 0;
    const code = vector ? gemvVector(w.dtype, bias?.dtype ?? null, m) : gemv(w.dtype, bias?.dtype ?? null, m);
    r.dispatch(code, { label: 'linear gemv', buffers, params: [m, n, k] }, rowGrid(groups));
  } else {
    r.dispatch(gemm(w.dtype, bias?.dtype ?? null), { label: 'linear gemm', buffers, params: [m, n, k] }, [Math.ceil(n / TILE), Math.ceil(m / TILE)]);
  }
}
