/**
 * Logits processors and warpers with transformers' math and order (generation/logits_process.py and
 * `_get_logits_processor`). Scores are float32 rows [rows, vocab] modified in place; `sequences[r]` is row r's
 * full token history (prompt, image tokens and padding included, as transformers passes input_ids).
 */
const f32 = Math.fround;
const NEG_INF = -Infinity;

export type LogitsProcessor = (sequences: readonly number[][], scores: Float32Array, vocab: number) => void;

/** Every row of `scores`, as a subarray. */
function forEachRow(scores: Float32Array, vocab: number, fn: (row: Float32Array, r: number) => void): void {
  for (let r = 0; r * vocab < scores.length; r++) fn(scores.subarray(r * vocab, (r + 1) * vocab), r);
}

/** Probabilities of a row (softmax in double precision). */
function softmax(row: Float32Array): Float64Array {
  let max = NEG_INF;
  for (const v of row) if (v > max) max = v;
  const p = new Float64Array(row.length);
  if (max === NEG_INF) return p;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += p[i] = Math.exp(row[i] - max);
  for (let i = 0; i < row.length; i++) p[i] /= sum;
  return p;
}

/** The k-th largest value of a row (k ≥ 1). */
function kthLargest(row: ArrayLike<number>, k: number): number {
  return Float64Array.from(row).sort().reverse()[Math.min(k, row.length) - 1];
}

/** Indices ordered by value, ascending; ties keep index order (a stable sort, as torch.sort on CPU). */
function argsortAscending(values: ArrayLike<number>): number[] {
  return Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a] - values[b] || a - b);
}

export function sequenceBias(bias: Array<[number[], number]>): LogitsProcessor {
  return (sequences, scores, vocab) => {
    for (const [ids] of bias) {
      const bad = ids.filter((id) => id >= vocab);
      if (bad.length) throw new RangeError(`sequence bias names token ${bad[0]}, outside the vocabulary (size ${vocab})`);
    }
    forEachRow(scores, vocab, (row, r) => {
      const seq = sequences[r];
      const add = new Map<number, number>();
      for (const [ids, b] of bias) {
        const prefix = ids.length - 1;
        if (prefix > seq.length) continue;
        let match = true;
        for (let i = 0; i < prefix && match; i++) match = seq[seq.length - prefix + i] === ids[i];
        if (match) add.set(ids[prefix], f32((add.get(ids[prefix]) ?? 0) + b));
      }
      for (const [id, b] of add) row[id] = f32(row[id] + b);
    });
  };
}

/** Bad words are a sequence bias of -inf (single EOS ids are exempt, as in transformers). */
export function noBadWords(badWords: number[][], eos: number[]): LogitsProcessor {
  const kept = badWords.filter((w) => !(w.length === 1 && eos.includes(w[0])));
  return sequenceBias(kept.map((w) => [w, NEG_INF]));
}

/** Each id present in the row: score < 0 ? score·p : score/p. */
export function repetitionPenalty(penalty: number): LogitsProcessor {
  const p = f32(penalty);
  return (sequences, scores, vocab) =>
    forEachRow(scores, vocab, (row, r) => {
      for (const id of new Set(sequences[r])) {
        if (id >= vocab || id < 0) continue;
        row[id] = row[id] < 0 ? f32(row[id] * p) : f32(row[id] / p);
      }
    });
}

/** Bans every token that would complete an n-gram already present in the row. */
/** OpenAI's presence and frequency penalties over the tokens after the prompt: logit −= presence·[count > 0] + frequency·count. */
export function presenceFrequencyPenalty(presence: number, frequency: number, promptLength: number): LogitsProcessor {
  return (sequences, scores, vocab) =>
    forEachRow(scores, vocab, (row, r) => {
      const counts = new Map<number, number>();
      for (const t of sequences[r].slice(promptLength)) counts.set(t, (counts.get(t) ?? 0) + 1);
      for (const [t, n] of counts) if (t >= 0 && t < vocab) row[t] = f32(row[t] - presence - frequency * n);
    });
}

export function noRepeatNgram(n: number): LogitsProcessor {
  return (sequences, scores, vocab) =>
    forEachRow(scores, vocab, (row, r) => {
      const seq = sequences[r];
      const len = seq.length;
      if (len < n) return;
      for (let start = 0; start + n <= len; start++) {
        let match = true;
        for (let i = 0; i < n - 1 && match; i++) match = seq[start + i] === seq[len - n + 1 + i];
        if (match && seq[start + n - 1] < vocab) row[seq[start + n - 1]] = NEG_INF;
      }
    });
}

/** EOS at -inf while the sequence is shorter than `minLength` (MinLength; MinNewTokens is the same with an offset). */
export function minLength(min: number, eos: number[]): LogitsProcessor {
  return (sequences, scores, vocab) =>
    forEachRow(scores, vocab, (row, r) => {
      if (sequences[r].length < min) for (const id of eos) if (id < vocab) row[id] = NEG_INF;
    });
}

export function suppressTokens(ids: number[]): LogitsProcessor {
  return (_s, scores, vocab) => forEachRow(scores, vocab, (row) => ids.forEach((id) => id < vocab && (row[id] = NEG_INF)));
}

/** Suppresses tokens only at the first generated position (sequence length == beginIndex). */
export function suppressTokensAtBegin(ids: number[], beginIndex: number): LogitsProcessor {
  return (sequences, scores, vocab) =>
    forEachRow(scores, vocab, (row, r) => {
      if (sequences[r].length === beginIndex) ids.forEach((id) => id < vocab && (row[id] = NEG_INF));
    });
}

// -- warpers (sampling only) ---------------------------------------------------------------------------

export function temperature(t: number): LogitsProcessor {
  const tf = f32(t);
  return (_s, scores) => {
    for (let i = 0; i < scores.length; i++) scores[i] = f32(scores[i] / tf);
  };
}

/** Keeps scores >= the k-th largest (ties at the threshold all stay). */
export function topK(k: number, minKeep = 1): LogitsProcessor {
  const keep = Math.max(k, minKeep);
  return (_s, scores, vocab) =>
    forEachRow(scores, vocab, (row) => {
      const threshold = kthLargest(row, Math.min(keep, vocab));
      for (let i = 0; i < vocab; i++) if (row[i] < threshold) row[i] = NEG_INF;
    });
}

/** Removes the ascending-sorted head whose cumulative probability is <= 1 - p; keeps the top minKeep. */
export function topP(p: number, minKeep = 1): LogitsProcessor {
  return (_s, scores, vocab) =>
    forEachRow(scores, vocab, (row) => {
      const order = argsortAscending(row);
      const sorted = Float32Array.from(order, (i) => row[i]);
      const probs = softmax(sorted);
      let cum = 0; // torch's CPU cumsum accumulates float32 values in double
      const cut = f32(1 - p);
      const remove: number[] = [];
      for (let j = 0; j < vocab; j++) {
        cum += f32(probs[j]);
        if (f32(cum) <= cut && j < vocab - minKeep) remove.push(order[j]);
      }
      for (const i of remove) row[i] = NEG_INF;
    });
}

/** Removes tokens whose probability is below minP × the top probability; keeps the top minKeep. */
export function minP(m: number, minKeep = 1): LogitsProcessor {
  return (_s, scores, vocab) =>
    forEachRow(scores, vocab, (row) => {
      const probs = softmax(row);
      const top = Math.max(...probs);
      const keep = new Set(argsortAscending(probs).slice(-Math.min(minKeep, vocab)));
      const scaled = f32(m * f32(top));
      for (let i = 0; i < vocab; i++) if (f32(probs[i]) < scaled && !keep.has(i)) row[i] = NEG_INF;
    });
}

/** Locally typical sampling: keeps the tokens whose surprise is closest to the entropy, up to mass. */
export function typicalP(mass: number, minKeep = 1): LogitsProcessor {
  return (_s, scores, vocab) =>
    forEachRow(scores, vocab, (row) => {
      const probs = softmax(row);
      let ent = 0;
      const logp = Float64Array.from(probs, (p) => Math.log(p));
      for (let i = 0; i < vocab; i++) if (probs[i] > 0) ent -= logp[i] * probs[i];
      const shifted = Float32Array.from(logp, (l) => f32(Math.abs(-l - ent)));
      const order = argsortAscending(shifted);
      const sortedProbs = softmax(Float32Array.from(order, (i) => row[i]));
      let cum = 0;
      let last = 0;
      for (let j = 0; j < vocab; j++) {
        cum += f32(sortedProbs[j]);
        if (f32(cum) < mass) last++;
      }
      last = Math.min(last, vocab - 1);
      const limit = shifted[order[last]];
      order.forEach((i, j) => {
        if (j >= minKeep && shifted[i] > limit) row[i] = NEG_INF;
      });
    });
}

function cutoff(threshold: (row: Float32Array, probs: Float64Array) => number, minKeep: number): LogitsProcessor {
  return (_s, scores, vocab) =>
    forEachRow(scores, vocab, (row) => {
      const probs = softmax(row);
      const t = threshold(row, probs);
      const kth = kthLargest(row, Math.min(minKeep, vocab));
      for (let i = 0; i < vocab; i++) if (f32(probs[i]) < t && row[i] < kth) row[i] = NEG_INF;
    });
}

/** Removes tokens with probability below epsilon (keeping the top minKeep). */
export function epsilonCutoff(epsilon: number, minKeep = 1): LogitsProcessor {
  return cutoff(() => f32(epsilon), minKeep);
}

/** Eta sampling: the cutoff is min(eta, sqrt(eta)·exp(-entropy)). */
export function etaCutoff(eta: number, minKeep = 1): LogitsProcessor {
  return cutoff((_row, probs) => {
    let ent = 0;
    for (const p of probs) if (p > 0) ent -= p * Math.log(p);
    return f32(Math.min(f32(eta), f32(f32(Math.sqrt(f32(eta))) * f32(Math.exp(-f32(ent))))));
  }, minKeep);
}
