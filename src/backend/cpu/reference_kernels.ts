/**
 * Plain TypeScript kernels: the oracle for every other engine. Activations are Float32Array; weights may be
 * float16/bfloat16 bit patterns (Uint16Array) and are widened row by row as they are used. Sums accumulate
 * in double precision and each result is rounded once to float32.
 */
import type { AttentionOptions } from '../backend.js';
import type { Activation } from '../../vocabulary.js';
import { halfToFloatTable } from '../../tensor/float16.js';
import { erf } from './math.js';

export type WeightData = { data: Float32Array | Uint16Array; dtype: 'float32' | 'float16' | 'bfloat16' };

/** Row `row` (length `k`) of a weight matrix as float32, widened into `scratch` if needed. */
export function weightRow(w: WeightData, row: number, k: number, scratch: Float32Array): Float32Array {
  const off = row * k;
  if (w.dtype === 'float32') return (w.data as Float32Array).subarray(off, off + k);
  const src = w.data as Uint16Array;
  if (w.dtype === 'float16') {
    const t = halfToFloatTable();
    for (let i = 0; i < k; i++) scratch[i] = t[src[off + i]];
  } else {
    const bits = new Uint32Array(scratch.buffer, scratch.byteOffset, k);
    for (let i = 0; i < k; i++) bits[i] = src[off + i] << 16;
  }
  return scratch;
}

/** Whole weight as float32 (for small vectors: norms, biases, embeddings added to activations). */
export function widen(w: WeightData): Float32Array {
  if (w.dtype === 'float32') return w.data as Float32Array;
  const n = w.data.length;
  return weightRow(w, 0, n, new Float32Array(n));
}

function dot(a: Float32Array, aOff: number, b: Float32Array, k: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < k; i += 4) {
    s0 += a[aOff + i] * b[i];
    s1 += a[aOff + i + 1] * b[i + 1];
    s2 += a[aOff + i + 2] * b[i + 2];
    s3 += a[aOff + i + 3] * b[i + 3];
  }
  for (; i < k; i++) s0 += a[aOff + i] * b[i];
  return s0 + s1 + (s2 + s3);
}

/** out[m, n] = Σ_k x[m, k] · w[n, k] + bias[n] */
export function linear(x: Float32Array, m: number, k: number, w: WeightData, n: number, bias: Float32Array | null): Float32Array {
  const out = new Float32Array(m * n);
  const scratch = new Float32Array(k);
  for (let j = 0; j < n; j++) {
    const row = weightRow(w, j, k, scratch);
    const b = bias ? bias[j] : 0;
    for (let i = 0; i < m; i++) out[i * n + j] = dot(x, i * k, row, k) + b;
  }
  return out;
}

export function activation(x: Float32Array, kind: Activation): Float32Array {
  const out = new Float32Array(x.length);
  switch (kind) {
    case 'gelu':
      for (let i = 0; i < x.length; i++) out[i] = 0.5 * x[i] * (1 + erf(x[i] * Math.SQRT1_2));
      break;
    case 'gelu_pytorch_tanh':
    case 'gelu_new': {
      const c = Math.sqrt(2 / Math.PI);
      for (let i = 0; i < x.length; i++) {
        const v = x[i];
        out[i] = 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v * v * v)));
      }
      break;
    }
    case 'quick_gelu':
      for (let i = 0; i < x.length; i++) out[i] = x[i] / (1 + Math.exp(-1.702 * x[i]));
      break;
    case 'silu':
      for (let i = 0; i < x.length; i++) out[i] = x[i] / (1 + Math.exp(-x[i]));
      break;
    case 'relu':
      for (let i = 0; i < x.length; i++) out[i] = x[i] > 0 ? x[i] : 0;
      break;
  }
  return out;
}

export function layerNorm(x: Float32Array, h: number, w: Float32Array, b: Float32Array, eps: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let off = 0; off < x.length; off += h) {
    let mean = 0;
    for (let i = 0; i < h; i++) mean += x[off + i];
    mean /= h;
    let v = 0;
    for (let i = 0; i < h; i++) v += (x[off + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / h + eps);
    for (let i = 0; i < h; i++) out[off + i] = (x[off + i] - mean) * inv * w[i] + b[i];
  }
  return out;
}

export function rmsNorm(x: Float32Array, h: number, w: Float32Array, eps: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let off = 0; off < x.length; off += h) {
    let ss = 0;
    for (let i = 0; i < h; i++) ss += x[off + i] * x[off + i];
    const inv = 1 / Math.sqrt(ss / h + eps);
    // transformers rounds x·rsqrt to the input dtype before multiplying by the weight.
    for (let i = 0; i < h; i++) out[off + i] = Math.fround(x[off + i] * inv) * w[i];
  }
  return out;
}

export function rope(
  x: Float32Array,
  rows: number,
  width: number,
  positions: Int32Array,
  headDim: number,
  invFreq: Float32Array,
  scaling: number,
): Float32Array {
  const out = new Float32Array(x.length);
  const half = headDim / 2;
  const cos = new Float32Array(half);
  const sin = new Float32Array(half);
  for (let r = 0; r < rows; r++) {
    const pos = positions[r];
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(invFreq[i] * pos);
      cos[i] = Math.fround(Math.cos(angle)) * scaling;
      sin[i] = Math.fround(Math.sin(angle)) * scaling;
    }
    for (let off = r * width; off < (r + 1) * width; off += headDim) {
      for (let i = 0; i < half; i++) {
        const x1 = x[off + i];
        const x2 = x[off + half + i];
        out[off + i] = x1 * cos[i] - x2 * sin[i];
        out[off + half + i] = x2 * cos[i] + x1 * sin[i];
      }
    }
  }
  return out;
}

/** q [B, S, nh·d]; k, v [B, T, nkv·d] with T ≥ kvLength → [B, S, nh·d]. Rows with no allowed key give 0. */
export function attention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  batch: number,
  seq: number,
  kvRows: number,
  o: Omit<AttentionOptions, 'keyMask'> & { keyMask?: Uint8Array },
): Float32Array {
  const { numHeads, numKvHeads, headDim: d, scale, kvLength } = o;
  const qWidth = numHeads * d;
  const kvWidth = numKvHeads * d;
  const rep = numHeads / numKvHeads;
  const out = new Float32Array(batch * seq * qWidth);
  const scores = new Float64Array(kvLength);
  const acc = new Float64Array(d);
  for (let b = 0; b < batch; b++) {
    for (let s = 0; s < seq; s++) {
      const qIndex = o.causal ? o.causal.pastLength + s : 0;
      let last = kvLength - 1;
      let first = 0;
      if (o.causal) last = Math.min(last, qIndex);
      if (o.slidingWindow !== undefined) first = Math.max(0, qIndex - o.slidingWindow + 1);
      for (let h = 0; h < numHeads; h++) {
        const g = Math.floor(h / rep);
        const qOff = (b * seq + s) * qWidth + h * d;
        let max = -Infinity;
        for (let t = first; t <= last; t++) {
          if (o.keyMask && !o.keyMask[b * kvLength + t]) {
            scores[t] = -Infinity;
            continue;
          }
          const kOff = (b * kvRows + t) * kvWidth + g * d;
          let sum = 0;
          for (let i = 0; i < d; i++) sum += q[qOff + i] * k[kOff + i];
          scores[t] = sum * scale;
          if (scores[t] > max) max = scores[t];
        }
        if (max === -Infinity) continue; // fully masked row (left padding): output stays 0
        acc.fill(0);
        let denom = 0;
        for (let t = first; t <= last; t++) {
          if (scores[t] === -Infinity) continue;
          const p = Math.exp(scores[t] - max);
          denom += p;
          const vOff = (b * kvRows + t) * kvWidth + g * d;
          for (let i = 0; i < d; i++) acc[i] += p * v[vOff + i];
        }
        for (let i = 0; i < d; i++) out[qOff + i] = acc[i] / denom;
      }
    }
  }
  return out;
}
