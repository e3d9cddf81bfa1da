/** The draws generation needs, from a seedable Rng (src/rng.ts). */
import type { Rng } from '../rng.js';

/** softmax(scores) in double precision (entries at -inf get probability 0). */
export function probabilities(scores: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i] > max) max = scores[i];
  const p = new Float64Array(scores.length);
  let sum = 0;
  for (let i = 0; i < scores.length; i++) sum += p[i] = Math.exp(scores[i] - max);
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  return p;
}

/** One index drawn from softmax(scores) (torch.multinomial's role). */
export function sample(scores: ArrayLike<number>, rng: Rng): number {
  const p = probabilities(scores);
  let u = rng.nextFloat();
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    last = i;
    u -= p[i];
    if (u < 0) return i;
  }
  return last; // rounding left a sliver: the last possible index
}

/** k distinct indices drawn from softmax(scores) without replacement (beam sampling). */
export function sampleWithoutReplacement(scores: ArrayLike<number>, k: number, rng: Rng): number[] {
  const p = probabilities(scores);
  const out: number[] = [];
  for (let n = 0; n < k; n++) {
    let total = 0;
    for (const v of p) total += v;
    let u = rng.nextFloat() * total;
    let pick = -1;
    for (let i = 0; i < p.length; i++) {
      if (p[i] === 0) continue;
      pick = i;
      u -= p[i];
      if (u < 0) break;
    }
    if (pick < 0) break;
    out.push(pick);
    p[pick] = 0;
  }
  return out;
}

/** Index of the largest score; ties go to the lowest index, as torch.argmax. */
export function argmax(scores: ArrayLike<number>, offset = 0, length = scores.length - offset): number {
  let best = 0;
  let max = -Infinity;
  for (let i = 0; i < length; i++) {
    if (scores[offset + i] > max) {
      max = scores[offset + i];
      best = i;
    }
  }
  return best;
}

/** log_softmax of one row, in double precision, rounded to float32. */
export function logSoftmax(row: ArrayLike<number>): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  const lse = max + Math.log(sum);
  return Float32Array.from({ length: row.length }, (_, i) => row[i] - lse);
}

/** The k most likely tokens of a row of log-probabilities, most likely first (ties: lower id first). */
export function mostLikely(logprobs: Float32Array, k: number): Array<{ token: number; logprob: number }> {
  const best: Array<{ token: number; logprob: number }> = [];
  for (let token = 0; token < logprobs.length; token++) {
    const logprob = logprobs[token];
    if (best.length === k && logprob <= best[k - 1].logprob) continue;
    let at = best.length < k ? best.length : k - 1;
    while (at > 0 && best[at - 1].logprob < logprob) at--;
    best.splice(at, 0, { token, logprob });
    if (best.length > k) best.pop();
  }
  return best;
}
