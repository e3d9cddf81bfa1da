/**
 * Rotary embedding (half-split) of x [rows, width] in heads of headDim, with cos and sin per (row, i) made on the
 * host once per forward (as the reference computes them), so the angles are the reference's to the bit.
 */
import { FLAT_INDEX, THREADS, type Recorder } from './recorder.js';

const ROPE = /* wgsl */ `
struct P { rows: u32, width: u32, half: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> cs: array<f32>;  // [2][rows][half]: cos, then sin
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${FLAT_INDEX}
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // one thread per rotated pair: (row, head, i)
  let t = flat(wid, nwg, lid);
  let pairs = p.width / 2u;
  if (t >= p.rows * pairs) { return; }
  let row = t / pairs;
  let j = t % pairs;
  let head = j / p.half;
  let i = j % p.half;
  let o = row * p.width + head * 2u * p.half + i;
  let c = cs[row * p.half + i];
  let s = cs[(p.rows + row) * p.half + i];
  let x1 = x[o];
  let x2 = x[o + p.half];
  y[o] = x1 * c - x2 * s;
  y[o + p.half] = x2 * c + x1 * s;
}`;

export function rope(r: Recorder, y: GPUBuffer, x: GPUBuffer, cosSin: GPUBuffer, rows: number, width: number, headDim: number): void {
  const n = (rows * width) / 2;
  r.dispatch(ROPE, { label: 'rope', buffers: [x, cosSin, y], params: [rows, width, headDim / 2] }, Math.ceil(n / THREADS));
}

/** cos and sin [2][rows][half] as the reference makes them: f32 angle, f32 cos/sin, times the scaling. */
export function cosSinTable(positions: Int32Array, invFreq: Float32Array, scaling: number): Float32Array {
  const half = invFreq.length;
  const rows = positions.length;
  const out = new Float32Array(2 * rows * half);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(invFreq[i] * positions[r]);
      out[r * half + i] = Math.fround(Math.cos(angle)) * scaling;
      out[(rows + r) * half + i] = Math.fround(Math.sin(angle)) * scaling;
    }
  }
  return out;
}
