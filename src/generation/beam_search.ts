/**
 * Beam search as transformers 5.x runs it (GenerationMixin._beam_search): every step keeps the
 * K = max(2, 1 + #eos) × numBeams best continuations of all beams by accumulated log-probability; those that
 * hit a stopping criterion become finished hypotheses (scored with the length penalty) if among the first
 * numBeams, the best numBeams that did not continue running; the loop ends when no running beam can beat the
 * finished ones (early-stopping heuristics), or at the length limit. Scores are float32 as in torch.
 */
import { nextTurn } from '../platform.js';
import { Rng } from '../rng.js';
import type { Tensor } from '../tensor/tensor.js';
import type { GenerateOptions } from './options.js';
import { logSoftmax, sampleWithoutReplacement } from './sampling.js';
import { decodeStep, MaskState, prefill, toTensor, type GenerativeModel, type Prepared } from './steps.js';
import { StopStringMatcher } from './stopping.js';

const f32 = Math.fround;
const BIG = -1e9;

interface Hypothesis {
  ids: number[];
  score: number;
  /** Generated tokens (what transformers counts through beam_indices). */
  generated: number;
  finished: boolean;
}

/** Indices of the `k` largest values, best first; ties go to the lower index (torch.topk's order on CPU). */
function topIndices(values: ArrayLike<number>, k: number): number[] {
  const best: number[] = []; // sorted, best first; k is small (a few beams)
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (best.length === k && !(v > values[best[k - 1]])) continue;
    let at = best.length;
    while (at > 0 && v > values[best[at - 1]]) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

export async function beamSearch(model: GenerativeModel, p: Prepared, o: GenerateOptions): Promise<Tensor<'int64'>> {
  const s = p.settings;
  const nb = s.numBeams;
  const B = p.batch;
  const V = p.vocab;
  const keep = Math.max(2, 1 + s.eos.length) * nb;
  const fill = s.pad;
  const stops = s.stopStrings.length ? new StopStringMatcher(o.tokenizer!, s.stopStrings) : null;
  const rng = new Rng(s.seed ?? Rng.randomSeed());
  const started = performance.now(); // sub-millisecond: a tiny model finishes a step within one

  const source = Int32Array.from({ length: B * nb }, (_, r) => Math.floor(r / nb));
  const cache = model.createCache(B, s.maxLength);
  const mask = new MaskState(p, source, s.maxLength);
  const promptRow = (b: number) => Array.from(p.prompt.subarray(b * p.promptLength, (b + 1) * p.promptLength));

  // Running beams (the first starts at 0, the others at -1e9 so step one expands only beam 0) and finished ones.
  const running: Hypothesis[][] = Array.from({ length: B }, (_, b) =>
    Array.from({ length: nb }, (_, j) => ({ ids: promptRow(b), score: j === 0 ? 0 : BIG, generated: 0, finished: false })),
  );
  const done: Hypothesis[][] = Array.from({ length: B }, (_, b) =>
    Array.from({ length: nb }, () => ({ ids: promptRow(b), score: BIG, generated: 0, finished: false })),
  );
  const improvable = new Array<boolean>(B).fill(true);

  let logits = await prefill(model, p, cache, mask, nb);
  for (let curLen = p.promptLength; ; curLen++) {
    // Log-probabilities, processed, per running beam.
    const logProbs = new Float32Array(B * nb * V);
    for (let r = 0; r < B * nb; r++) logProbs.set(logSoftmax(logits.subarray(r * V, (r + 1) * V)), r * V);
    const sequences = running.flat().map((h) => h.ids);
    for (const proc of s.processors) proc(sequences, logProbs, V);

    const timeUp = s.maxTime !== null && (performance.now() - started) / 1000 > s.maxTime;
    let allHit = true;
    const reorder = new Int32Array(B * nb);
    for (let b = 0; b < B; b++) {
      // Accumulated scores over all beams' continuations [nb · V].
      const acc = new Float32Array(nb * V);
      for (let j = 0; j < nb; j++) {
        const base = running[b][j].score;
        for (let v = 0; v < V; v++) acc[j * V + v] = f32(logProbs[(b * nb + j) * V + v] + base);
      }
      let picks: number[];
      if (s.doSample) picks = sampleWithoutReplacement(acc, keep, rng);
      else picks = topIndices(acc, keep);
      const candidates = picks.map((i) => {
        const beam = Math.floor(i / V);
        const parent = running[b][beam];
        const ids = [...parent.ids, i % V];
        const hit = s.eos.includes(i % V) || curLen + 1 >= s.maxLength || timeUp || (stops?.matches(ids) ?? false);
        return { beam, ids, logProb: acc[i], hit, generated: parent.generated + 1 };
      });
      if (!candidates.every((c) => c.hit)) allHit = false;

      // e. The best numBeams candidates that did not stop keep running.
      const runScores = candidates.map((c) => f32(c.logProb + (c.hit ? BIG : 0)));
      const next = topIndices(runScores, nb);
      running[b] = next.map((c) => ({ ids: candidates[c].ids, score: runScores[c], generated: candidates[c].generated, finished: false }));
      next.forEach((c, j) => (reorder[b * nb + j] = b * nb + candidates[c].beam));

      // f. Stopped candidates among the first numBeams may replace worse finished hypotheses.
      const penalty = f32((curLen + 1 - p.promptLength) ** s.lengthPenalty);
      const full = done[b].every((h) => h.finished) && s.earlyStopping === true;
      const merged: Hypothesis[] = [...done[b]];
      candidates.forEach((c, k) => {
        let score = f32(c.logProb / penalty);
        if (full) score = f32(score + BIG);
        if (!improvable[b]) score = f32(score + BIG);
        const justFinished = c.hit && k < nb;
        if (!justFinished) score = f32(score + BIG);
        merged.push({ ids: c.ids, score, generated: c.generated, finished: justFinished });
      });
      done[b] = topIndices(merged.map((h) => h.score), nb).map((i) => merged[i]);
    }

    // g. Can any running beam still beat the finished hypotheses?
    const afterLen = curLen + 1;
    for (let b = 0; b < B; b++) {
      const hypLength = s.earlyStopping === 'never' && s.lengthPenalty > 0 ? s.maxLength - p.promptLength : afterLen - p.promptLength;
      const best = f32(running[b][0].score / f32(hypLength ** s.lengthPenalty));
      const worst = Math.min(...done[b].map((h) => h.score));
      improvable[b] = improvable[b] && done[b].some((h) => best > (h.finished ? worst : BIG));
    }
    const allFinishedEarly = done.every((d) => d.every((h) => h.finished)) && s.earlyStopping === true;
    await nextTurn();
    if (!improvable.some(Boolean) || allFinishedEarly || allHit || afterLen >= s.maxLength || o.signal?.aborted) break;

    cache.reorder(reorder);
    mask.reorder(reorder);
    mask.extend(curLen);
    const tokens = Int32Array.from(running.flat(), (h) => h.ids[h.ids.length - 1]);
    logits = await decodeStep(model, tokens, cache, mask);
  }

  if (o.signal?.aborted) {
    // Cancelled: running beams count as finished at their length, so what was produced is kept.
    for (let b = 0; b < B; b++) {
      const pool = [...done[b].filter((h) => h.finished), ...running[b].map((h) => ({ ...h, score: f32(h.score / f32(h.generated ** s.lengthPenalty)), finished: true }))];
      done[b] = topIndices(pool.map((h) => h.score), nb).map((i) => pool[i]);
    }
  }
  // The best numReturnSequences finished hypotheses per prompt, cropped to the longest and padded.
  const chosen = done.flatMap((d) => d.slice(0, s.numReturnSequences));
  const length = p.promptLength + Math.max(...chosen.map((h) => (h.finished ? h.generated : 0)));
  return toTensor(chosen.map((h) => [...h.ids.slice(0, length), ...Array<number>(Math.max(0, length - h.ids.length)).fill(fill)]));
}
