/**
 * Q8_0 and Q4_0 blocks made on the host (browser-safe), as the native engine's packer makes them (pack.cc) and as
 * llama.cpp defines them: each row of a [N, K] weight in blocks of 32 along K (the last one zero-padded), a float16
 * scale per block, all arithmetic in f32.
 * - Q8_0: scale = max |w| / 127; q = round(w / scale) (ties to even), in [-127, 127].
 * - Q4_0: scale = m / -8 where m is the block's value of largest magnitude (the first, on a tie); q = min(15,
 *   trunc(w / scale + 8.5)), in [0, 15] (the stored nibble; the value is (q - 8) · scale).
 */
import { float32ToHalf, halfToFloat32 } from '../tensor/float16.js';
import type { FloatDtype, TensorDtype } from '../vocabulary.js';

export type QuantDtype = Exclude<TensorDtype, FloatDtype>;
export const isQuantized = (dtype: string): dtype is QuantDtype => dtype === 'q8_0' || dtype === 'q4_0';
export const QBLOCK = 32;

export interface QuantBlocks {
  dtype: QuantDtype;
  n: number;
  k: number;
  /** Blocks per row: ceil(k / 32). */
  blocks: number;
  /** Q8_0: int8 [n, blocks · 32]; Q4_0: the nibbles q in 0..15, one per byte, [n, blocks · 32]. */
  q: Int8Array | Uint8Array;
  /** float16 bits [n, blocks]. */
  scales: Uint16Array;
}

const f = Math.fround;

export function quantize(values: Float32Array, n: number, k: number, dtype: QuantDtype): QuantBlocks {
  const blocks = Math.ceil(k / QBLOCK);
  const kp = blocks * QBLOCK;
  const q = dtype === 'q8_0' ? new Int8Array(n * kp) : new Uint8Array(n * kp);
  const scales = new Uint16Array(n * blocks);
  const q4 = dtype === 'q4_0';
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < blocks; b++) {
      const from = row * k + b * QBLOCK;
      const to = row * k + Math.min(k, (b + 1) * QBLOCK); // the rest of a last, partial block is zero
      const out = row * kp + b * QBLOCK - from;
      let scale: number;
      if (q4) {
        let mx = 0;
        for (let i = from; i < to; i++) if (Math.abs(values[i]) > Math.abs(mx)) mx = values[i];
        scale = f(mx / -8);
        const inv = scale !== 0 ? f(1 / scale) : 0;
        for (let i = from; i < to; i++) q[out + i] = Math.min(15, Math.trunc(f(f(values[i] * inv) + 8.5)));
        for (let i = to; i < from + QBLOCK; i++) q[out + i] = 8;
      } else {
        let amax = 0;
        for (let i = from; i < to; i++) {
          const a = values[i] < 0 ? -values[i] : values[i];
          if (a > amax) amax = a;
        }
        scale = f(amax / 127);
        const inv = scale !== 0 ? f(1 / scale) : 0;
        for (let i = from; i < to; i++) q[out + i] = roundEven(f(values[i] * inv));
      }
      scales[row * blocks + b] = float32ToHalf(scale);
    }
  }
  return { dtype, n, k, blocks, q, scales };
}

/** The weight back as float32 [n, k]: q · scale (Q4_0: (q - 8) · scale). */
export function dequantize(b: QuantBlocks): Float32Array {
  const kp = b.blocks * QBLOCK;
  const scale = halfToFloat32(b.scales);
  const out = new Float32Array(b.n * b.k);
  const bias = b.dtype === 'q4_0' ? 8 : 0;
  for (let row = 0; row < b.n; row++) {
    for (let t = 0; t < b.k; t++) out[row * b.k + t] = (b.q[row * kp + t] - bias) * scale[row * b.blocks + ((t / QBLOCK) | 0)];
  }
  return out;
}

/**
 * nearbyint under the default rounding mode (to nearest, ties to even) for |x| < 2^51: adding 1.5 · 2^52 leaves no
 * fraction bits, so the double addition itself rounds.
 */
const ROUNDER = 6755399441055744;
const roundEven = (x: number) => x + ROUNDER - ROUNDER;
