/**
 * generate() as transformers runs it for this model (reference §10), on the shared steps of steps.ts: greedy
 * and sampling stream token by token; beam search lives in beam_search.ts.
 */
import { InputError } from '../errors.js';
import { nextTurn } from '../platform.js';
import { Rng } from '../rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { beamSearch } from './beam_search.js';
import { IncrementalDetokenizer } from './detokenizer.js';
import type { GenerateOptions, ResolvedGeneration } from './options.js';
import { argmax, logSoftmax, mostLikely, sample } from './sampling.js';
import { decodeStep, MaskState, prefill, prepare, toTensor, type GenerativeModel, type Prefilled } from './steps.js';
import { StopStringMatcher } from './stopping.js';

export type FinishReason = 'eos' | 'stop_string' | 'length' | 'time' | 'abort';

export interface TokenEvent {
  /** Output row: prompt row × numReturnSequences + sample index. */
  row: number;
  token: number;
  /** Text that became final with this token ("" without a tokenizer, or while a character is incomplete). */
  text: string;
  /** log-probability of the token under the processed distribution (with outputLogprobs). */
  logprob?: number;
  /** The `topLogprobs` most likely tokens of that distribution, most likely first (with outputLogprobs). */
  topLogprobs?: Array<{ token: number; logprob: number }>;
  /** Set on a row's last event. An abort event carries no token (token -1): the signal fired between steps. */
  finishReason?: FinishReason;
}

/**
 * Greedy decoding or sampling, one event per row per new token. Returns the sequences [rows, length].
 * `prefilled` continues from a cache that already holds the prompt (one row).
 */
export async function* decodeTokens(model: GenerativeModel, o: GenerateOptions, p = prepare(model, o), prefilled?: Prefilled): AsyncGenerator<TokenEvent, Tensor<'int64'>> {
  const s = p.settings;
  if (s.numBeams > 1) throw new InputError('beam search returns whole sequences; it cannot stream (use generate)');
  const expand = s.numReturnSequences;
  if (prefilled && (p.batch !== 1 || expand !== 1)) throw new InputError('a prefilled cache continues one sequence only');
  const rows = p.batch * expand;
  const source = Int32Array.from({ length: rows }, (_, r) => Math.floor(r / expand));
  const cache = prefilled?.cache ?? model.createCache(p.batch, s.maxLength);
  cache.grow(s.maxLength);
  const mask = new MaskState(p, source, s.maxLength);
  const rng = new Rng(s.seed ?? Rng.randomSeed());
  const stops = s.stopStrings.length ? new StopStringMatcher(o.tokenizer!, s.stopStrings) : null;
  const detok = o.tokenizer ? Array.from({ length: rows }, () => new IncrementalDetokenizer(o.tokenizer!)) : null;
  const sequences = Array.from(source, (b) => Array.from(p.prompt.subarray(b * p.promptLength, (b + 1) * p.promptLength)));
  const unfinished = new Array<boolean>(rows).fill(true);
  const started = performance.now(); // sub-millisecond: a tiny model finishes a step within one
  const V = p.vocab;

  const abortEvents = (): TokenEvent[] =>
    unfinished.flatMap((open, r) => (open ? [{ row: r, token: -1, text: detok ? detok[r].flush() : '', finishReason: 'abort' as const }] : []));

  if (o.signal?.aborted) {
    yield* abortEvents();
    return toTensor(sequences);
  }
  let logits = prefilled?.logits ?? (await prefill(model, p, cache, mask, expand));
  for (let length = p.promptLength; length < s.maxLength; length++) {
    const scores = logits; // processors work in place on this step's logits
    for (const proc of s.processors) proc(sequences, scores, V);
    const timeUp = s.maxTime !== null && (performance.now() - started) / 1000 > s.maxTime;
    const next = new Int32Array(rows);
    const events: TokenEvent[] = [];
    for (let r = 0; r < rows; r++) {
      const row = scores.subarray(r * V, (r + 1) * V);
      if (!unfinished[r]) {
        next[r] = s.pad;
        sequences[r].push(s.pad);
        continue;
      }
      const event = pickToken(s, o, row, sequences[r], { rng, detok: detok?.[r] ?? null, stops, timeUp, last: length + 1 >= s.maxLength });
      event.row = r;
      next[r] = event.token;
      if (event.finishReason) unfinished[r] = false;
      events.push(event);
    }
    yield* events;
    mask.extend(length);
    if (!unfinished.includes(true)) break;
    await nextTurn(); // let I/O in (a Ctrl-C, a server's other requests) between tokens
    if (o.signal?.aborted) {
      yield* abortEvents();
      break;
    }
    logits = await decodeStep(model, next, cache, mask);
  }
  return toTensor(sequences);
}

/** What picking a row's next token needs besides its scores: its generator, detokenizer and stop strings. */
export interface RowState {
  rng: Rng;
  detok: IncrementalDetokenizer | null;
  stops: StopStringMatcher | null;
  /** maxTime has passed. */
  timeUp: boolean;
  /** This token reaches maxLength. */
  last: boolean;
}

/**
 * One row's next token from its processed scores (sampled or greedy), appended to `sequence`, as the event
 * generateStream gives (row 0), with the finish reason when the row ends here. Shared with continuous batching.
 */
export function pickToken(s: ResolvedGeneration, o: GenerateOptions, scores: Float32Array, sequence: number[], st: RowState): TokenEvent {
  const token = s.doSample ? sample(scores, st.rng) : argmax(scores);
  sequence.push(token);
  const event: TokenEvent = { row: 0, token, text: st.detok ? st.detok.push(token) : '' };
  if (o.outputLogprobs) {
    const logprobs = logSoftmax(scores);
    event.logprob = logprobs[token];
    if (o.topLogprobs) event.topLogprobs = mostLikely(logprobs, o.topLogprobs);
  }
  let reason: FinishReason | undefined;
  if (s.eos.includes(token)) reason = 'eos';
  else if (st.stops?.matches(sequence)) reason = 'stop_string';
  else if (st.last) reason = 'length';
  else if (st.timeUp) reason = 'time';
  if (reason) {
    event.finishReason = reason;
    if (st.detok) event.text += st.detok.flush();
  }
  return event;
}

/** The prompt followed by the generated tokens, [rows, length], as transformers' generate() returns it. */
export async function generate(model: GenerativeModel, o: GenerateOptions): Promise<Tensor<'int64'>> {
  const p = prepare(model, o);
  if (p.settings.numBeams > 1) return beamSearch(model, p, o);
  const steps = decodeTokens(model, o, p);
  for (;;) {
    const r = await steps.next();
    if (r.done) return r.value;
  }
}
