/**
 * A seedable random generator and the draws generation needs. xoshiro128** on 32-bit integer arithmetic,
 * seeded through splitmix32: the same seed gives the same numbers on every platform and run.
 */
export class Rng {
  private s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** A seed from the platform's entropy, for runs that were given none. */
  static randomSeed(): number {
    return crypto.getRandomValues(new Uint32Array(1))[0];
  }

  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    return ((this.nextUint32() >>> 5) * 67108864 + (this.nextUint32() >>> 6)) / 9007199254740992;
  }
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

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
