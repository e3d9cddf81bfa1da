/**
 * Attention weights as transformers' eager attention returns them (`output_attentions`): softmax(q·kᵀ·scale +
 * mask) per head, in float32, where the mask adds float32's lowest value at every key a query may not see
 * (later positions, padding, keys outside a sliding window). A query that may see no key at all (a padding row
 * of a left-padded batch) therefore weighs every key equally, as transformers' does. The engines' fused
 * attention never forms these matrices; this is computed on the host from the rotated queries and keys a
 * forward recorded.
 */
import { Tensor } from '../tensor/tensor.js';

export interface AttentionShape {
  batch: number;
  seq: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Keys attended: pastLength + seq. */
  kvLength: number;
  /** Rows of the key buffer per batch row (a cache holds more than kvLength). */
  kvRows: number;
  pastLength: number;
  /** [batch, kvLength] 1 = attend; undefined: every key. */
  keyMask?: Uint8Array;
  slidingWindow?: number;
}

const LOWEST = -3.4028234663852886e38;

/** q [B, S, nh·d] and k [B, kvRows, nkv·d] (both float32, row-major) → weights [B, nh, S, kvLength]. */
export function attentionWeights(q: Float32Array, k: Float32Array, s: AttentionShape): Tensor<'float32'> {
  const { batch, seq, numHeads: nh, numKvHeads: nkv, headDim: d, kvLength: kv, kvRows, pastLength } = s;
  const out = new Float32Array(batch * nh * seq * kv);
  const scale = Math.fround(d ** -0.5);
  const scores = new Float32Array(kv);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nh; h++) {
      const kvHead = Math.floor(h / (nh / nkv));
      for (let i = 0; i < seq; i++) {
        const qAt = (b * seq + i) * nh * d + h * d;
        const position = pastLength + i;
        let max = -Infinity;
        for (let j = 0; j < kv; j++) {
          const kAt = (b * kvRows + j) * nkv * d + kvHead * d;
          let dot = 0;
          for (let t = 0; t < d; t++) dot += q[qAt + t] * k[kAt + t];
          const visible = j <= position && (s.keyMask === undefined || s.keyMask[b * kv + j] === 1) && (s.slidingWindow === undefined || position - j < s.slidingWindow);
          const v = Math.fround(Math.fround(Math.fround(dot) * scale) + (visible ? 0 : LOWEST));
          scores[j] = v;
          if (v > max) max = v;
        }
        let sum = 0;
        for (let j = 0; j < kv; j++) sum += (scores[j] = Math.exp(scores[j] - max));
        const row = ((b * nh + h) * seq + i) * kv;
        for (let j = 0; j < kv; j++) out[row + j] = scores[j] / sum;
      }
    }
  }
  return new Tensor('float32', out, [batch, nh, seq, kv]);
}
