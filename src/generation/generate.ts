/**
 * generate() as transformers runs it for this model (reference §10): position ids from the attention mask,
 * image features computed once, a prefill that keeps only the last logits, then one token per step through the
 * KV cache. Greedy and sampling stream token by token; beam search lives in beam_search.ts.
 */
import type { DeviceTensor } from '../backend/backend.js';
import { InputError } from '../errors.js';
import type { KVCache } from '../models/kv_cache.js';
import type { VipLlavaForConditionalGeneration } from '../models/vipllava.js';
import * as ops from '../tensor/ops.js';
import { readIntMatrix, readMask, Tensor, type IntInput } from '../tensor/tensor.js';
import { beamSearch } from './beam_search.js';
import { IncrementalDetokenizer } from './detokenizer.js';
import { resolveGeneration, type GenerationOptions, type ResolvedGeneration } from './options.js';
import { argmax, logSoftmax, Rng, sample } from './sampling.js';
import { StopStringMatcher } from './stopping.js';

export interface GenerateOptions extends GenerationOptions {
  inputIds: IntInput;
  /** 0 marks left padding. Inferred from the pad token when absent, as transformers does. */
  attentionMask?: IntInput;
  pixelValues?: Tensor;
}

export type FinishReason = 'eos' | 'stop_string' | 'length' | 'time' | 'abort';

export interface TokenEvent {
  /** Output row: prompt row × numReturnSequences + sample index. */
  row: number;
  token: number;
  /** Text that became final with this token ("" without a tokenizer, or while a character is incomplete). */
  text: string;
  /** log-probability of the token under the processed distribution (with outputLogprobs). */
  logprob?: number;
  /** Set on a row's last event. An abort event carries no token (token -1): the signal fired between steps. */
  finishReason?: FinishReason;
}

/** The prompt, checked and laid out, with what every decoding method needs. */
export interface Prepared {
  settings: ResolvedGeneration;
  batch: number;
  promptLength: number;
  prompt: Int32Array;
  /** [batch, promptLength] 0/1. */
  promptMask: Uint8Array;
  /** [batch, promptLength]: cumsum(mask) - 1, padding at 0. */
  promptPositions: Int32Array;
  imageFeatures: DeviceTensor | null;
  vocab: number;
}

export function prepare(model: VipLlavaForConditionalGeneration, o: GenerateOptions): Prepared {
  const { data: prompt, rows: batch, cols: promptLength } = readIntMatrix(o.inputIds, 'inputIds');
  if (promptLength === 0 || batch === 0) throw new InputError('inputIds is empty');
  const settings = resolveGeneration(o, model.generationConfig, model.config.text_config, model.config.pad_token_id, promptLength);
  const given = o.attentionMask !== undefined ? readMask(o.attentionMask, batch, promptLength) : undefined;
  const inferFromPad = o.attentionMask === undefined && !settings.eos.includes(settings.pad) && prompt.includes(settings.pad);
  const promptMask = new Uint8Array(batch * promptLength);
  const promptPositions = new Int32Array(batch * promptLength);
  for (let b = 0; b < batch; b++) {
    let count = 0;
    for (let t = 0; t < promptLength; t++) {
      const i = b * promptLength + t;
      promptMask[i] = given ? given[i] : inferFromPad ? Number(prompt[i] !== settings.pad) : 1;
      if (promptMask[i]) count++;
      promptPositions[i] = promptMask[i] ? count - 1 : 0;
    }
  }
  const imageFeatures = o.pixelValues ? model.imageFeatures(o.pixelValues) : null;
  return { settings, batch, promptLength, prompt, promptMask, promptPositions, imageFeatures, vocab: model.config.text_config.vocab_size };
}

/** A growing attention mask over prompt + generated tokens, one row per sequence being generated. */
export class MaskState {
  private data: Uint8Array;
  readonly nextPosition: Int32Array;

  constructor(
    p: Prepared,
    /** Prompt row of each generated row. */
    readonly source: Int32Array,
    private readonly capacity: number,
  ) {
    const rows = source.length;
    this.data = new Uint8Array(rows * capacity);
    this.nextPosition = new Int32Array(rows);
    source.forEach((b, r) => {
      let last = -1;
      for (let t = 0; t < p.promptLength; t++) {
        this.data[r * capacity + t] = p.promptMask[b * p.promptLength + t];
        if (p.promptMask[b * p.promptLength + t]) last = p.promptPositions[b * p.promptLength + t];
      }
      this.nextPosition[r] = last + 1;
    });
  }

  /** Marks position `at` as a real token in every row. */
  extend(at: number): void {
    for (let r = 0; r < this.source.length; r++) this.data[r * this.capacity + at] = 1;
  }

  /** The mask over the first `length` positions, or undefined when nothing is masked. */
  view(length: number): Uint8Array | undefined {
    const rows = this.source.length;
    const m = new Uint8Array(rows * length);
    let masked = false;
    for (let r = 0; r < rows; r++) {
      for (let t = 0; t < length; t++) {
        m[r * length + t] = this.data[r * this.capacity + t];
        if (!m[r * length + t]) masked = true;
      }
    }
    return masked ? m : undefined;
  }

  /** Rows in a new order (beam search). */
  reorder(rows: Int32Array): void {
    const old = this.data;
    const oldNext = Int32Array.from(this.nextPosition);
    this.data = new Uint8Array(old.length);
    rows.forEach((from, r) => {
      this.data.set(old.subarray(from * this.capacity, (from + 1) * this.capacity), r * this.capacity);
      this.nextPosition[r] = oldNext[from];
    });
  }
}

/**
 * Runs the prompt through the model once per prompt row and copies the cache and last logits to `expand`
 * rows per prompt (beams or return sequences), which is what transformers' expanded prefill computes.
 */
export async function prefill(model: VipLlavaForConditionalGeneration, p: Prepared, cache: KVCache, mask: MaskState, expand: number): Promise<Float32Array> {
  const keyMask = p.promptMask.includes(0) ? p.promptMask : undefined;
  const logits = await ops.read(
    model.step({ ids: p.prompt, batch: p.batch, seq: p.promptLength, positions: p.promptPositions, keyMask, cache, imageFeatures: p.imageFeatures, logitsToKeep: 1 }),
  );
  if (expand === 1) return logits;
  cache.reorder(mask.source);
  const out = new Float32Array(mask.source.length * p.vocab);
  mask.source.forEach((b, r) => out.set(logits.subarray(b * p.vocab, (b + 1) * p.vocab), r * p.vocab));
  return out;
}

/** Feeds one token per row at the next position; returns the next logits [rows, vocab]. */
export async function decodeStep(model: VipLlavaForConditionalGeneration, tokens: Int32Array, cache: KVCache, mask: MaskState): Promise<Float32Array> {
  const positions = Int32Array.from(mask.nextPosition);
  mask.nextPosition.forEach((v, r) => (mask.nextPosition[r] = v + 1));
  const keyMask = mask.view(cache.length + 1);
  return ops.read(model.step({ ids: tokens, batch: tokens.length, seq: 1, positions, keyMask, cache, logitsToKeep: 1 }));
}

/** A prompt already run through the model (a chat session's cache): its cache and last logits. */
export interface Prefilled {
  cache: KVCache;
  logits: Float32Array;
}

/**
 * Greedy decoding or sampling, one event per row per new token. Returns the sequences [rows, length].
 * `prefilled` continues from a cache that already holds the prompt (one row).
 */
export async function* decodeTokens(model: VipLlavaForConditionalGeneration, o: GenerateOptions, p = prepare(model, o), prefilled?: Prefilled): AsyncGenerator<TokenEvent, Tensor<'int64'>> {
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
  const started = Date.now();
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
    const timeUp = s.maxTime !== null && (Date.now() - started) / 1000 > s.maxTime;
    const next = new Int32Array(rows);
    const events: TokenEvent[] = [];
    for (let r = 0; r < rows; r++) {
      const row = scores.subarray(r * V, (r + 1) * V);
      if (!unfinished[r]) {
        next[r] = s.pad;
        sequences[r].push(s.pad);
        continue;
      }
      const token = s.doSample ? sample(row, rng) : argmax(row);
      next[r] = token;
      sequences[r].push(token);
      const event: TokenEvent = { row: r, token, text: detok ? detok[r].push(token) : '' };
      if (o.outputLogprobs) event.logprob = logSoftmax(row)[token];
      let reason: FinishReason | undefined;
      if (s.eos.includes(token)) reason = 'eos';
      else if (stops?.matches(sequences[r])) reason = 'stop_string';
      else if (length + 1 >= s.maxLength) reason = 'length';
      else if (timeUp) reason = 'time';
      if (reason) {
        unfinished[r] = false;
        event.finishReason = reason;
        if (detok) event.text += detok[r].flush();
      }
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

/** Resolves after pending I/O callbacks have run: engines whose reads resolve at once would otherwise starve them. */
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Equal-length rows of ids as an int64 tensor. */
export function toTensor(rows: number[][]): Tensor<'int64'> {
  const length = rows[0]?.length ?? 0;
  const data = new BigInt64Array(rows.length * length);
  rows.forEach((row, r) => row.forEach((id, t) => (data[r * length + t] = BigInt(id))));
  return new Tensor('int64', data, [rows.length, length]);
}

/** The prompt followed by the generated tokens, [rows, length], as transformers' generate() returns it. */
export async function generate(model: VipLlavaForConditionalGeneration, o: GenerateOptions): Promise<Tensor<'int64'>> {
  const p = prepare(model, o);
  if (p.settings.numBeams > 1) return beamSearch(model, p, o);
  const steps = decodeTokens(model, o, p);
  for (;;) {
    const r = await steps.next();
    if (r.done) return r.value;
  }
}
