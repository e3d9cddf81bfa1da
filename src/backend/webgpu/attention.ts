/**
 * Scaled dot-product attention, q [B, S, nh·d] over k, v [B, T, nkv·d] (f32 or a float16 cache), with a running
 * maximum and sum (online softmax), so no S × T matrix is ever made; causal, sliding-window and key-mask rules as
 * the reference's. Two shapes of work:
 * - few queries (decode): a workgroup per (batch, query, head) and share of the keys (split-K, the shares'
 *   partials combined after); keys go by in chunks of 64, each key's dot product read by 16 consecutive threads
 *   (coalesced), then one output dim per thread;
 * - many queries (prefill, the vision tower): a workgroup per 32 queries of one (batch, head), 4 threads to a
 *   query (each a quarter of the head's dims), keys and values staged in workgroup memory 8 rows at a time and
 *   shared by all 32, the quarters' dot products summed through workgroup memory.
 */
import { f32Bits, rowGrid, shader, type Recorder } from './recorder.js';
import { helpers, reader, type GpuDtype } from './wgsl.js';

const T = 64;
/** Largest head_dim: each thread keeps MAX_D / 64 output dims. */
export const MAX_HEAD_DIM = 256;

/**
 * What both kernels declare: the parameters (splits: the decode kernel's only), q, k, v, the key mask, y; and the
 * keys [first, last] query s may see under the causal and sliding-window rules.
 */
const common = (kv: GpuDtype) => /* wgsl */ `
struct P { batch: u32, seq: u32, heads: u32, kv_heads: u32, d: u32, kv_length: u32, kv_rows: u32, scale: f32,
           past: u32, causal: u32, window: u32, masked: u32, splits: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> q: array<f32>;
${helpers(kv)}
${reader('k', 2, kv)}
${reader('v', 3, kv)}
@group(0) @binding(4) var<storage, read> key_mask: array<u32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
fn key_bounds(s: u32) -> vec2<i32> {
  let qi = select(0u, p.past + s, p.causal == 1u);
  var last = i32(p.kv_length) - 1;
  if (p.causal == 1u) { last = min(last, i32(qi)); }
  var first = 0;
  if (p.window > 0u) { first = max(0, i32(qi) - i32(p.window) + 1); }
  return vec2<i32>(first, last);
}`;

/** The decode kernel's workgroup: 128 threads, LANES to a key while scoring (8 keys at a time), one output dim each after. */
const DECODE_THREADS = 128;
const LANES = 16;

function perQuery(kv: GpuDtype): string {
  const dims = MAX_HEAD_DIM / DECODE_THREADS;
  return /* wgsl */ `
${common(kv)}
@group(0) @binding(6) var<storage, read_write> partial: array<f32>;  // [item][split][m, l, acc[d]] when split
var<workgroup> qv: array<f32, ${MAX_HEAD_DIM}>;
var<workgroup> dots: array<f32, ${T * (LANES + 1)}>;  // [key][lane], rows padded by one against bank conflicts
var<workgroup> sc: array<f32, ${T}>;
const NEG = -3.0e38;
@compute @workgroup_size(${DECODE_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = wid.y * 65535u + wid.x;
  let item = group / p.splits;  // (b · seq + s) · heads + h
  let split = group % p.splits;
  if (item >= p.batch * p.seq * p.heads) { return; }
  let h = item % p.heads;
  let bs = item / p.heads;
  let b = bs / p.seq;
  let s = bs % p.seq;
  let g = h / (p.heads / p.kv_heads);
  let q_off = bs * p.heads * p.d + h * p.d;
  let kv_width = p.kv_heads * p.d;
  for (var i = lid; i < p.d; i += ${DECODE_THREADS}u) { qv[i] = q[q_off + i]; }
  workgroupBarrier();
  let seen = key_bounds(s);
  let first = seen.x;
  let last = seen.y;
  // this workgroup's share of the keys
  let per = (max(last - first + 1, 0) + i32(p.splits) - 1) / i32(p.splits);
  let lo = first + i32(split) * per;
  let hi = min(last, lo + per - 1);
  // scoring: LANES consecutive threads read one key row together, each every LANES-th dim
  let key_group = lid / ${LANES}u;
  let lane = lid % ${LANES}u;
  var m = NEG;
  var l = 0.0;
  var acc = array<f32, ${dims}>();
  for (var t0 = lo; t0 <= hi; t0 += ${T}) {
    for (var j = key_group; j < ${T}u; j += ${DECODE_THREADS / LANES}u) {
      let t = t0 + i32(j);
      var dot = 0.0;
      if (t <= hi) {
        let k_off = (b * p.kv_rows + u32(t)) * kv_width + g * p.d;
        for (var i = lane; i < p.d; i += ${LANES}u) { dot = fma(qv[i], k_at(k_off + i), dot); }
      }
      dots[j * ${LANES + 1}u + lane] = dot;
    }
    workgroupBarrier();
    var score = NEG;
    if (lid < ${T}u) {
      let t = t0 + i32(lid);
      if (t <= hi && (p.masked == 0u || key_mask[b * p.kv_length + u32(t)] != 0u)) {
        var dot = 0.0;
        for (var x = 0u; x < ${LANES}u; x++) { dot += dots[lid * ${LANES + 1}u + x]; }
        score = dot * p.scale;
      }
      sc[lid] = score;
    }
    workgroupBarrier();
    var cm = NEG;
    for (var j = 0u; j < ${T}u; j++) { cm = max(cm, sc[j]); }
    let nm = max(m, cm);
    workgroupBarrier();
    // the key's thread turns its score into a weight; then every thread adds the chunk's values for its dims
    if (lid < ${T}u) { sc[lid] = select(exp(score - nm), 0.0, score == NEG); }
    workgroupBarrier();
    if (cm > NEG) {
      let corr = select(exp(m - nm), 0.0, m == NEG);
      l = l * corr;
      for (var e = 0u; e < ${dims}u; e++) { acc[e] = acc[e] * corr; }
      let n = u32(min(${T}, hi - t0 + 1));
      for (var j = 0u; j < n; j++) {
        let pj = sc[j];
        l = l + pj;
        let v_off = (b * p.kv_rows + u32(t0) + j) * kv_width + g * p.d;
        for (var e = 0u; e < ${dims}u; e++) {
          let i = lid + e * ${DECODE_THREADS}u;
          if (i < p.d) { acc[e] = fma(pj, v_at(v_off + i), acc[e]); }
        }
      }
      m = nm;
    }
    workgroupBarrier();
  }
  if (p.splits == 1u) {
    for (var e = 0u; e < ${dims}u; e++) {
      let i = lid + e * ${DECODE_THREADS}u;
      if (i < p.d) { y[q_off + i] = select(acc[e] / l, 0.0, m == NEG); }
    }
    return;
  }
  let base = group * (p.d + 2u);
  if (lid == 0u) {
    partial[base] = m;
    partial[base + 1u] = l;
  }
  for (var e = 0u; e < ${dims}u; e++) {
    let i = lid + e * ${DECODE_THREADS}u;
    if (i < p.d) { partial[base + 2u + i] = acc[e]; }
  }
}`;
}

/**
 * The many-query kernel's shape: QB queries per workgroup, SL threads to a query (each holding every SL-th dim of
 * its q and output), and as many key rows staged at a time as fit (at most 16) with the slices' partial dot
 * products in WebGPU's guaranteed 16 KB of workgroup memory; compiled for each head_dim (≤ ROWS_MAX_D).
 */
const QB = 32;
const SL = 4;
const ROWS_MAX_D = 128;
const keyRows = (d: number) => Math.min(16, Math.floor(16384 / (8 * d + 4 * QB * SL)));

function perBlock(kv: GpuDtype, d: number): string {
  const per = Math.ceil(d / SL);
  const KB = keyRows(d);
  return /* wgsl */ `
${common(kv)}
var<workgroup> ks: array<array<f32, ${d}>, ${KB}>;
var<workgroup> vs: array<array<f32, ${d}>, ${KB}>;
var<workgroup> part: array<f32, ${KB * QB * SL}>;  // [key j][query][slice]
const NEG = -3.0e38;
@compute @workgroup_size(${QB * SL})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let blocks = (p.seq + ${QB - 1}u) / ${QB}u;
  let item = wid.y * 65535u + wid.x;  // ((b · heads + h) · blocks + block)
  if (item >= p.batch * p.heads * blocks) { return; }
  let block = item % blocks;
  let h = (item / blocks) % p.heads;
  let b = item / (blocks * p.heads);
  let g = h / (p.heads / p.kv_heads);
  let kv_width = p.kv_heads * p.d;
  let qi = lid / ${SL}u;
  let sl = lid % ${SL}u;
  let s = block * ${QB}u + qi;
  let live = s < p.seq;
  let q_off = ((b * p.seq + min(s, p.seq - 1u)) * p.heads + h) * p.d;
  // this thread's dims: sl, sl + SL, sl + 2·SL, …
  var qv: array<f32, ${per}>;
  for (var e = 0u; e < ${per}u; e++) {
    let i = sl + e * ${SL}u;
    qv[e] = select(0.0, q[q_off + min(i, p.d - 1u)], i < p.d);
  }
  let seen = key_bounds(s);
  let first = seen.x;
  let last = seen.y;
  // the keys any query of the block may see
  let s_last = min(block * ${QB}u + ${QB - 1}u, p.seq - 1u);
  let block_first = key_bounds(block * ${QB}u).x;
  let block_last = key_bounds(s_last).y;
  var m = NEG;
  var l = 0.0;
  var acc: array<f32, ${per}>;
  for (var t0 = block_first; t0 <= block_last; t0 += ${KB}) {
    for (var e = lid; e < ${KB}u * p.d; e += ${QB * SL}u) {
      let j = e / p.d;
      let i = e % p.d;
      let t = u32(min(t0 + i32(j), i32(p.kv_rows) - 1));
      let off = (b * p.kv_rows + t) * kv_width + g * p.d + i;
      ks[j][i] = k_at(off);
      vs[j][i] = v_at(off);
    }
    workgroupBarrier();
    for (var j = 0u; j < ${KB}u; j++) {
      var dot = 0.0;
      for (var e = 0u; e < ${per}u; e++) {
        let i = sl + e * ${SL}u;
        if (i < p.d) { dot = fma(qv[e], ks[j][i], dot); }
      }
      part[(j * ${QB}u + qi) * ${SL}u + sl] = dot;
    }
    workgroupBarrier();
    // the tile's scores (every slice of a query computes the same ones), one rescale for the tile
    var sc: array<f32, ${KB}>;
    var cm = NEG;
    for (var j = 0u; j < ${KB}u; j++) {
      let t = t0 + i32(j);
      var score = NEG;
      if (live && t >= first && t <= last && (p.masked == 0u || key_mask[b * p.kv_length + u32(t)] != 0u)) {
        var dot = 0.0;
        for (var x = 0u; x < ${SL}u; x++) { dot += part[(j * ${QB}u + qi) * ${SL}u + x]; }
        score = dot * p.scale;
      }
      sc[j] = score;
      cm = max(cm, score);
    }
    if (cm > NEG) {
      let nm = max(m, cm);
      let corr = select(exp(m - nm), 0.0, m == NEG);
      l = l * corr;
      for (var e = 0u; e < ${per}u; e++) { acc[e] = acc[e] * corr; }
      for (var j = 0u; j < ${KB}u; j++) {
        let pj = select(exp(sc[j] - nm), 0.0, sc[j] == NEG);
        l = l + pj;
        for (var e = 0u; e < ${per}u; e++) { acc[e] = fma(pj, vs[j][min(sl + e * ${SL}u, ${d - 1}u)], acc[e]); }
      }
      m = nm;
    }
    workgroupBarrier();
  }
  if (live) {
    for (var e = 0u; e < ${per}u; e++) {
      let i = sl + e * ${SL}u;
      if (i < p.d) { y[q_off + i] = select(acc[e] / l, 0.0, m == NEG); }
    }
  }
}`;
}

/** The split decode's partial maxima, sums and weighted values of each item combined: y = Σ acc·e^(m−M) / Σ l·e^(m−M). */
const COMBINE = /* wgsl */ `
struct P { items: u32, splits: u32, d: u32, heads: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const NEG = -3.0e38;
@compute @workgroup_size(${T})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let item = wid.y * 65535u + wid.x;
  if (item >= p.items) { return; }
  let stride = p.d + 2u;
  var mx = NEG;
  for (var s = 0u; s < p.splits; s++) { mx = max(mx, partial[(item * p.splits + s) * stride]); }
  var l = 0.0;
  for (var s = 0u; s < p.splits; s++) {
    let ms = partial[(item * p.splits + s) * stride];
    if (ms > NEG) { l += partial[(item * p.splits + s) * stride + 1u] * exp(ms - mx); }
  }
  // item = (b · seq + s) · heads + h, and y's row of the item starts at item · d
  for (var i = lid; i < p.d; i += ${T}u) {
    var acc = 0.0;
    for (var s = 0u; s < p.splits; s++) {
      let o = (item * p.splits + s) * stride;
      let ms = partial[o];
      if (ms > NEG) { acc += partial[o + 2u + i] * exp(ms - mx); }
    }
    y[item * p.d + i] = select(acc / l, 0.0, mx == NEG);
  }
}`;

/** Key splits of a decode-sized attention: enough workgroups to fill a large GPU, each at least a chunk of keys. */
function keySplits(items: number, kvLength: number): number {
  if (items >= 4096) return 1;
  return Math.max(1, Math.min(32, Math.ceil(kvLength / T), Math.ceil(4096 / items)));
}

export interface AttentionShape {
  batch: number;
  seq: number;
  heads: number;
  kvHeads: number;
  d: number;
  kvLength: number;
  /** Rows of k and v per batch entry (a preallocated cache may hold more than kvLength). */
  kvRows: number;
  scale: number;
  pastLength: number | null;
  window: number | null;
}

export function attention(r: Recorder, y: GPUBuffer, q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, kvDtype: GpuDtype, keyMask: GPUBuffer | null, maskDummy: GPUBuffer, a: AttentionShape): void {
  const blocks = a.seq >= 16 && a.d <= ROWS_MAX_D;
  const items = blocks ? a.batch * a.heads * Math.ceil(a.seq / QB) : a.batch * a.seq * a.heads;
  const splits = blocks ? 1 : keySplits(items, a.kvLength);
  const params = [a.batch, a.seq, a.heads, a.kvHeads, a.d, a.kvLength, a.kvRows, f32Bits(a.scale), a.pastLength ?? 0, a.pastLength === null ? 0 : 1, a.window ?? 0, keyMask ? 1 : 0, splits];
  if (blocks) {
    r.dispatch(shader(`attention blocks ${kvDtype} ${a.d}`, () => perBlock(kvDtype, a.d)), { label: 'attention, query blocks', buffers: [q, k, v, keyMask ?? maskDummy, y], params }, rowGrid(items));
    return;
  }
  // the partials (a word when unsplit: a writable binding may not share the read-only mask's placeholder)
  const partial = r.allocate(splits > 1 ? 4 * items * splits * (a.d + 2) : 4);
  r.dispatch(shader(`attention per query ${kvDtype}`, () => perQuery(kvDtype)), { label: 'attention, per query', buffers: [q, k, v, keyMask ?? maskDummy, y, partial.buffer], params }, rowGrid(items * splits));
  if (splits > 1) r.dispatch(COMBINE, { label: 'attention, combine splits', buffers: [partial.buffer, y], params: [items, splits, a.d, a.heads] }, rowGrid(items));
  r.release(partial);
}
