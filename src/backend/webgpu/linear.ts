/**
 * y [M, N] = x [M, K] · w [N, K]ᵀ (+ bias [N]) for weights in f32, float16, bfloat16, Q8_0 or Q4_0 (dequantised in
 * the kernels; quantized.ts has their layout), f32 accumulation.
 * - GEMV (M ≤ GEMV_ROWS, decode): a workgroup of 256 threads per 8 output features, 32 threads to a feature,
 *   each reading 16 bytes of its weight row at a time (8 halves or 4 floats; consecutive threads, consecutive
 *   bytes), four such reads issued before any is used (halves and floats), partial sums added by subgroupAdd
 *   where subgroups are 32 wide, else in workgroup memory. Q8_0 reads are half a block, Q4_0 reads a whole one, each
 *   with its scale. Where K is not a multiple of the vector (of 32 for the quantised formats), a slower variant
 *   with one value per read: 64 threads split K for 8 features.
 * - GEMM (prefill, the vision tower): a workgroup per 64 × 64 outputs, 16 × 16 threads of 4 × 4 outputs each,
 *   with 16-wide slices of x and w staged in workgroup memory.
 * - GEMM on subgroup matrices (where the device has them, 16 × 16 × 16 f16 products with f32 results, and the
 *   weights are halves or blocks: f32 weights keep the f32 kernel): a workgroup of one 32-wide subgroup per
 *   64 × 64 outputs, 32-wide slices of x and w rounded to f16 in workgroup memory, 4 × 4 result matrices.
 */
import { rowGrid, shader, type Recorder } from './recorder.js';
import { helpers, reader, unpackHalf, type GpuDtype } from './wgsl.js';
import { quantLayout, quantReader } from './quantized.js';
import { isQuantized as quantized, type QuantDtype } from '../../weights/quantize.js';

export type WeightDtype = GpuDtype | QuantDtype;

export const GEMV_ROWS = 4;
const COLS = 8;
const THREADS = 64;
const TILE = 64;
const KT = 16;
/** Weight reads (of halves or floats) a vector-GEMV thread issues before using them. */
const UNROLL = 4;

/** blocks and scales: the quantised formats' blocks per row and first scale word (quantized.ts). */
const PARAMS = 'struct P { m: u32, n: u32, k: u32, blocks: u32, scales: u32 }\n@group(0) @binding(0) var<uniform> p: P;';

/** The weight at binding 3 and fn w_rc(row, kk) -> f32, its element (row, kk). */
function weightReader(w: WeightDtype): string {
  if (quantized(w)) return quantReader(w, 3);
  return `${reader('w', 3, w)}
fn w_rc(row: u32, kk: u32) -> f32 { return w_at(row * p.k + kk); }`;
}

function head(w: WeightDtype, bias: GpuDtype | null): string {
  return /* wgsl */ `
${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${helpers(quantized(w) ? 'float16' : w, ...(bias ? [bias] : []))}
${weightReader(w)}
${bias ? reader('bias', 4, bias) : ''}`;
}

function gemv(w: WeightDtype, bias: GpuDtype | null, m: number): string {
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
      let wv = w_rc(col, kk);
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

/** K values of one 16-byte weight read: 4 floats, 8 halves, 16 Q8_0 quants or 32 Q4_0 ones. */
const perVector = (w: WeightDtype) => ({ float32: 4, float16: 8, bfloat16: 8, q8_0: 16, q4_0: 32 })[w];
/** Whether K suits the vector GEMV: whole reads in every row (whole blocks for the quantised formats). */
const vectorK = (w: WeightDtype, k: number) => k % (quantized(w) ? 32 : perVector(w)) === 0;

/**
 * WGSL that adds read j's products with row r's x (vec4s from xo) to acc[r]: `weights` unpacks the read wq
 * once, `products` is the sum for one row.
 */
function vectorProducts(w: WeightDtype): { weights: string; products: string } {
  switch (w) {
    case 'float32':
      return { weights: '', products: 'dot(x[xo], wq)' };
    case 'float16':
    case 'bfloat16':
      return {
        weights: `let wa = vec4<f32>(${unpackHalf(w, 'wq.x & 0xffffu')}, ${unpackHalf(w, 'wq.x >> 16u')}, ${unpackHalf(w, 'wq.y & 0xffffu')}, ${unpackHalf(w, 'wq.y >> 16u')});
    let wb = vec4<f32>(${unpackHalf(w, 'wq.z & 0xffffu')}, ${unpackHalf(w, 'wq.z >> 16u')}, ${unpackHalf(w, 'wq.w & 0xffffu')}, ${unpackHalf(w, 'wq.w >> 16u')});`,
        products: 'dot(x[xo], wa) + dot(x[xo + 1u], wb)',
      };
    case 'q8_0': // half a block: 16 int8, four to a word; the block's scale
      return {
        weights: `let s = w_scale(row * p.blocks + j / 2u);
    var wv: array<vec4<f32>, 4>;
    for (var c = 0u; c < 4u; c++) {
      let u = wq[c];
      wv[c] = vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(u << 24u, u << 16u, u << 8u, u)) >> vec4<u32>(24u));
    }`,
        products: 's * (dot(x[xo], wv[0]) + dot(x[xo + 1u], wv[1]) + dot(x[xo + 2u], wv[2]) + dot(x[xo + 3u], wv[3]))',
      };
    case 'q4_0': // a block: word c holds elements 4c..4c+3 (low nibbles) and 16+4c.. (high nibbles)
      return {
        weights: `let s = w_scale(row * p.blocks + j);
    var lo: array<vec4<f32>, 4>;
    var hi: array<vec4<f32>, 4>;
    for (var c = 0u; c < 4u; c++) {
      let u = vec4<u32>(wq[c]) >> vec4<u32>(0u, 8u, 16u, 24u);
      lo[c] = vec4<f32>(u & vec4<u32>(15u)) - 8.0;
      hi[c] = vec4<f32>((u >> vec4<u32>(4u)) & vec4<u32>(15u)) - 8.0;
    }`,
        products: `s * (dot(x[xo], lo[0]) + dot(x[xo + 1u], lo[1]) + dot(x[xo + 2u], lo[2]) + dot(x[xo + 3u], lo[3])
      + dot(x[xo + 4u], hi[0]) + dot(x[xo + 5u], hi[1]) + dot(x[xo + 6u], hi[2]) + dot(x[xo + 7u], hi[3]))`,
      };
  }
}

/** Weight reads a vector-GEMV thread issues before using them: four of halves or floats, one block at a time. */
const unroll = (w: WeightDtype) => (quantized(w) ? 1 : UNROLL);

/**
 * The vector GEMV; with `subgroups` (subgroups always 32 wide: one per weight row) the row's partial sums are
 * added by subgroupAdd, else through workgroup memory.
 */
function gemvVector(w: WeightDtype, bias: GpuDtype | null, m: number, subgroups: boolean): string {
  const v = perVector(w);
  const U = unroll(w);
  const { weights, products } = vectorProducts(w);
  const scale = quantized(w)
    ? 'fn w_scale(blk: u32) -> f32 { let at = p.scales + (blk >> 1u); return half_to_f32((w[at >> 2u][at & 3u] >> ((blk & 1u) * 16u)) & 0xffffu); }'
    : '';
  const reduce = subgroups
    ? `for (var r = 0u; r < ${m}u; r++) { acc[r] = subgroupAdd(acc[r]); }
  if (t == 0u && col < p.n) {
    for (var r = 0u; r < ${m}u; r++) { y[r * p.n + col] = acc[r]${bias ? ' + bias_at(col)' : ''}; }
  }`
    : `for (var r = 0u; r < ${m}u; r++) { part[r * 256u + lid] = acc[r]; }
  workgroupBarrier();
  for (var s = 16u; s > 0u; s = s >> 1u) {
    if (t < s) {
      for (var r = 0u; r < ${m}u; r++) { part[r * 256u + lid] += part[r * 256u + lid + s]; }
    }
    workgroupBarrier();
  }
  if (t == 0u && col < p.n) {
    for (var r = 0u; r < ${m}u; r++) { y[r * p.n + col] = part[r * 256u + lid]${bias ? ' + bias_at(col)' : ''}; }
  }`;
  return /* wgsl */ `${subgroups ? 'enable subgroups;' : ''}
${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<vec4<${w === 'float32' ? 'f32' : 'u32'}>>;
${helpers(quantized(w) ? 'float16' : w, ...(bias ? [bias] : []))}
${scale}
${bias ? reader('bias', 4, bias) : ''}
${subgroups ? '' : `var<workgroup> part: array<f32, ${256 * m}>;`}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = lid / 32u;
  let t = lid % 32u;
  let col = (wid.y * 65535u + wid.x) * 8u + c;
  let row = min(col, p.n - 1u);
  let reads = ${quantized(w) ? `p.blocks * ${32 / v}u` : `p.k / ${v}u`};
  var acc: array<f32, ${m}>;
  for (var j0 = t; j0 < reads; j0 += ${32 * U}u) {
    // the reads issued together (clamped into the row), then used: more bytes in flight per thread
    var wqs: array<vec4<${w === 'float32' ? 'f32' : 'u32'}>, ${U}>;
    for (var u = 0u; u < ${U}u; u++) { wqs[u] = w[row * reads + min(j0 + 32u * u, reads - 1u)]; }
    for (var u = 0u; u < ${U}u; u++) {
      let j = j0 + 32u * u;
      if (j < reads) {
        let wq = wqs[u];
        ${weights}
        for (var r = 0u; r < ${m}u; r++) {
          let xo = (r * p.k) / 4u + j * ${v / 4}u;
          acc[r] += ${products};
        }
      }
    }
  }
  ${reduce}
}`;
}

/** Workgroup memory rows of the staged f16 slices: 32 values and 8 of padding, against bank conflicts. */
const SM_STRIDE = 40;

function gemmSubgroupMatrix(w: WeightDtype, bias: GpuDtype | null): string {
  return /* wgsl */ `enable f16;
enable chromium_experimental_subgroup_matrix;
${head(w, bias)}
var<workgroup> xs: array<f16, ${TILE * SM_STRIDE}>;  // [row][k]
var<workgroup> ws: array<f16, ${TILE * SM_STRIDE}>;  // [output column][k]: the right matrix, column-major
var<workgroup> out: array<f32, 256>;  // one 16 × 16 result on its way out
@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let r0 = wid.y * ${TILE}u;
  let c0 = wid.x * ${TILE}u;
  var acc: array<subgroup_matrix_result<f32, 16, 16>, 16>;  // [i · 4 + j]: rows r0 + 16i, columns c0 + 16j
  for (var k0 = 0u; k0 < p.k; k0 += 32u) {
    // thread t stages k0 + t of every row of x and of w
    let kk = k0 + t;
    for (var r = 0u; r < ${TILE}u; r++) {
      xs[r * ${SM_STRIDE}u + t] = f16(select(0.0, x[(r0 + r) * p.k + kk], r0 + r < p.m && kk < p.k));
      ws[r * ${SM_STRIDE}u + t] = f16(select(0.0, w_rc(min(c0 + r, p.n - 1u), min(kk, p.k - 1u)), c0 + r < p.n && kk < p.k));
    }
    workgroupBarrier();
    for (var h = 0u; h < 32u; h += 16u) {
      var a: array<subgroup_matrix_left<f16, 16, 16>, 4>;
      var b: array<subgroup_matrix_right<f16, 16, 16>, 4>;
      for (var i = 0u; i < 4u; i++) {
        a[i] = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&xs, i * ${16 * SM_STRIDE}u + h, ${SM_STRIDE}u);
        b[i] = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&ws, i * ${16 * SM_STRIDE}u + h, ${SM_STRIDE}u);
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i * 4u + j] = subgroupMatrixMultiplyAccumulate(a[i], b[j], acc[i * 4u + j]); }
      }
    }
    workgroupBarrier();
  }
  for (var e = 0u; e < 16u; e++) {
    subgroupMatrixStore<row_major>(&out, 0u, acc[e], 16u);
    workgroupBarrier();
    for (var v = t; v < 256u; v += 32u) {
      let row = r0 + (e / 4u) * 16u + v / 16u;
      let col = c0 + (e % 4u) * 16u + v % 16u;
      if (row < p.m && col < p.n) { y[row * p.n + col] = out[v]${bias ? ' + bias_at(col)' : ''}; }
    }
    workgroupBarrier();
  }
}`;
}

function gemm(w: WeightDtype, bias: GpuDtype | null): string {
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
      ws[rr][flat % ${KT}u] = select(0.0, w_rc(c0 + rr, kk), c0 + rr < p.n && kk < p.k);
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
  w: { buffer: GPUBuffer; dtype: WeightDtype },
  bias: { buffer: GPUBuffer; dtype: GpuDtype } | null,
  m: number,
  n: number,
  k: number,
): void {
  const buffers = [x, y, w.buffer, ...(bias ? [bias.buffer] : [])];
  if (m === 0 || n === 0) return;
  const q = quantized(w.dtype) ? quantLayout(w.dtype, n, k) : { blocks: 0, scales: 0 };
  const params = [m, n, k, q.blocks, q.scales];
  const b = bias?.dtype ?? null;
  if (m <= GEMV_ROWS) {
    const groups = Math.ceil(n / COLS);
    const sg = r.subgroups32;
    const code = vectorK(w.dtype, k) ? shader(`gemv vector ${w.dtype} ${b} ${m} ${sg}`, () => gemvVector(w.dtype, b, m, sg)) : shader(`gemv ${w.dtype} ${b} ${m}`, () => gemv(w.dtype, b, m));
    r.dispatch(code, { label: 'linear gemv', buffers, params }, rowGrid(groups));
  } else if (r.subgroupMatrix && w.dtype !== 'float32') {
    r.dispatch(shader(`gemm subgroup matrix ${w.dtype} ${b}`, () => gemmSubgroupMatrix(w.dtype, b)), { label: 'linear gemm, subgroup matrices', buffers, params }, [Math.ceil(n / TILE), Math.ceil(m / TILE)]);
  } else {
    r.dispatch(shader(`gemm ${w.dtype} ${b}`, () => gemm(w.dtype, b)), { label: 'linear gemm', buffers, params }, [Math.ceil(n / TILE), Math.ceil(m / TILE)]);
  }
}
