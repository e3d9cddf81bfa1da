/**
 * Continuous batching: many single-sequence requests decoded together, one model step per token for all of them.
 * A new request is prefilled alone (as generate() would), then joins the running batch at the next step; a
 * finished, aborted or timed-out one leaves it there. Each row keeps its own positions, attention mask, settings
 * (processors, sampling generator, stop strings, limits) and history, so its tokens are those it gets alone. The
 * batch's KV cache is rebuilt, each row right-aligned, whenever rows join or leave (KVCache.assemble).
 */
import { InputError } from '../errors.js';
import { KVCache } from '../models/kv_cache.js';
import { nextTurn } from '../platform.js';
import { Rng } from '../rng.js';
import { IncrementalDetokenizer } from './detokenizer.js';
import type { FinishReason, TokenEvent } from './generate.js';
import type { GenerateOptions } from './options.js';
import { argmax, logSoftmax, mostLikely, sample } from './sampling.js';
import { finiteLogits, MaskState, prefill, prepare, type GenerativeModel, type Prepared } from './steps.js';
import { StopStringMatcher } from './stopping.js';

/** Positions a batch cache grows by at a time, so rows that may run long do not hold their whole limit from the start. */
const GROW = 256;

export interface BatcherOptions {
  /** Rows decoded together at most; more requests wait their turn in arrival order. */
  maxBatch: number;
  /** Called whenever the batch or the waiting list changes size. */
  onChange?: (running: number, waiting: number) => void;
}

/** One request being decoded: everything its row needs. */
interface Row {
  p: Prepared;
  o: GenerateOptions;
  events: EventQueue;
  rng: Rng;
  stops: StopStringMatcher | null;
  detok: IncrementalDetokenizer | null;
  /** Prompt and generated ids, as the processors see them. */
  sequence: number[];
  /** The row's attention mask over its own cached positions, oldest first. */
  mask: number[];
  nextPosition: number;
  token: number;
  started: number;
  /** Where its keys and values are now: its own prefill cache until it joins, then the batch's. */
  cache: KVCache;
  cacheRow: number;
}

/** Events handed from the decode loop to one request's consumer. */
class EventQueue {
  private items: TokenEvent[] = [];
  private wake: (() => void) | null = null;
  private failure: unknown = null;
  ended = false;

  push(e: TokenEvent): void {
    this.items.push(e);
    if (e.finishReason) this.ended = true;
    this.wake?.();
  }

  fail(e: unknown): void {
    this.failure = e;
    this.ended = true;
    this.wake?.();
  }

  async *drain(): AsyncGenerator<TokenEvent> {
    for (;;) {
      if (this.items.length) {
        const e = this.items.shift()!;
        yield e;
        if (e.finishReason) return;
        continue;
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }
}

export class ContinuousBatcher {
  private readonly waiting: Row[] = [];
  private running: Row[] = [];
  private batch: KVCache | null = null;
  private loop: Promise<void> | null = null;

  constructor(
    readonly model: GenerativeModel,
    readonly options: BatcherOptions,
  ) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) throw new InputError(`maxBatch must be a positive integer, got ${options.maxBatch}`);
  }

  get size(): { running: number; waiting: number } {
    return { running: this.running.length, waiting: this.waiting.length };
  }

  /**
   * Generates for one prompt row (greedy or sampling, one sequence) within the shared batch; events as
   * generateStream's. The request is checked before it waits: a bad one throws at once.
   */
  async *generate(o: GenerateOptions): AsyncGenerator<TokenEvent> {
    const p = prepare(this.model, o);
    if (p.batch !== 1) throw new InputError(`continuous batching takes one prompt per request, got ${p.batch}`);
    if (p.settings.numBeams > 1 || p.settings.numReturnSequences > 1) throw new InputError('continuous batching decodes one sequence per request (no beams, numReturnSequences 1)');
    const row: Row = {
      p,
      o,
      events: new EventQueue(),
      rng: new Rng(p.settings.seed ?? Rng.randomSeed()),
      stops: p.settings.stopStrings.length ? new StopStringMatcher(o.tokenizer!, p.settings.stopStrings) : null,
      detok: o.tokenizer ? new IncrementalDetokenizer(o.tokenizer) : null,
      sequence: Array.from(p.prompt),
      mask: Array.from(p.promptMask),
      nextPosition: 0,
      token: -1,
      started: Date.now(),
      cache: null as unknown as KVCache,
      cacheRow: 0,
    };
    this.waiting.push(row);
    this.changed();
    this.loop ??= this.run().finally(() => (this.loop = null));
    try {
      yield* row.events.drain();
    } finally {
      if (!row.events.ended) row.events.ended = true; // the consumer stopped reading: the row leaves at the next step
    }
  }

  private changed(): void {
    this.options.onChange?.(this.running.length, this.waiting.length);
  }

  /** Steps the batch until no request is left. */
  private async run(): Promise<void> {
    try {
      while (this.running.length || this.waiting.length) {
        let membership = false;
        while (this.waiting.length && this.running.length < this.options.maxBatch) {
          const row = this.waiting.shift()!;
          try {
            if (await this.admit(row)) this.running.push(row);
          } catch (e) {
            row.events.fail(e); // this request's own failure (its prompt, its images): the others go on
          }
          membership = true;
        }
        const before = this.running.length;
        this.running = this.running.filter((r) => !r.events.ended);
        if (this.running.length !== before) membership = true;
        if (membership) {
          this.changed();
          this.rebuild();
        }
        if (this.running.length) await this.step();
        await nextTurn(); // new requests and aborts get in between steps
      }
    } catch (e) {
      for (const r of [...this.running, ...this.waiting]) r.events.fail(e);
      this.running = [];
      this.waiting.length = 0;
    } finally {
      this.batch = null;
      this.changed();
    }
  }

  /** Prefills a waiting request alone and emits its first token; false when it already ended. */
  private async admit(row: Row): Promise<boolean> {
    if (row.o.signal?.aborted || row.events.ended) {
      this.finish(row, 'abort');
      return false;
    }
    const s = row.p.settings;
    const mask = new MaskState(row.p, Int32Array.of(0), s.maxLength);
    row.cache = this.model.createCache(1, row.p.promptLength);
    row.cacheRow = 0;
    const logits = await prefill(this.model, row.p, row.cache, mask, 1);
    row.nextPosition = mask.nextPosition[0];
    return this.choose(row, logits, row.p.promptLength);
  }

  /** The batch cache rebuilt from where each running row's keys and values are now. */
  private rebuild(): void {
    if (!this.running.length) {
      this.batch = null;
      return;
    }
    const length = Math.max(...this.running.map((r) => r.mask.length));
    const parts = this.running.map((r) => ({ cache: r.cache, row: r.cacheRow, start: r.cache.length - r.mask.length, end: r.cache.length }));
    this.batch = KVCache.assemble(parts, length + this.room());
    this.running.forEach((r, i) => {
      r.cache = this.batch!;
      r.cacheRow = i;
    });
  }

  /** Positions to allocate ahead: what the rows may still need, in steps of at most GROW (the cache grows as needed). */
  private room(): number {
    return Math.min(GROW, Math.max(...this.running.map((r) => r.p.settings.maxLength - r.sequence.length)) + 1);
  }

  /** One token for every running row. */
  private async step(): Promise<void> {
    const cache = this.batch!;
    if (cache.length + 1 > cache.maxLength) cache.grow(cache.length + this.room());
    const rows = this.running;
    const length = cache.length + 1;
    const keyMask = new Uint8Array(rows.length * length);
    rows.forEach((r, i) => {
      r.mask.push(1);
      keyMask.set(r.mask, i * length + length - r.mask.length);
    });
    const positions = Int32Array.from(rows, (r) => r.nextPosition++);
    const ids = Int32Array.from(rows, (r) => r.token);
    const logits = await finiteLogits(this.model.step({ ids, batch: rows.length, seq: 1, positions, keyMask, cache, logitsToKeep: 1 }), 'in a batched step');
    const V = rows[0].p.vocab;
    rows.forEach((r, i) => this.choose(r, logits.subarray(i * V, (i + 1) * V), r.sequence.length));
  }

  /** Processes a row's scores, picks its token and emits it; false when the row has finished. */
  private choose(r: Row, scores: Float32Array, length: number): boolean {
    const s = r.p.settings;
    if (r.events.ended) return false;
    if (r.o.signal?.aborted) {
      this.finish(r, 'abort');
      return false;
    }
    for (const proc of s.processors) proc([r.sequence], scores, r.p.vocab);
    const token = s.doSample ? sample(scores, r.rng) : argmax(scores);
    r.sequence.push(token);
    r.token = token;
    const event: TokenEvent = { row: 0, token, text: r.detok ? r.detok.push(token) : '' };
    if (r.o.outputLogprobs) {
      const logprobs = logSoftmax(scores);
      event.logprob = logprobs[token];
      if (r.o.topLogprobs) event.topLogprobs = mostLikely(logprobs, r.o.topLogprobs);
    }
    let reason: FinishReason | undefined;
    if (s.eos.includes(token)) reason = 'eos';
    else if (r.stops?.matches(r.sequence)) reason = 'stop_string';
    else if (length + 1 >= s.maxLength) reason = 'length';
    else if (s.maxTime !== null && (Date.now() - r.started) / 1000 > s.maxTime) reason = 'time';
    if (reason) {
      event.finishReason = reason;
      if (r.detok) event.text += r.detok.flush();
    }
    r.events.push(event);
    return !reason;
  }

  private finish(r: Row, reason: FinishReason): void {
    if (r.events.ended) return;
    r.events.push({ row: 0, token: -1, text: r.detok ? r.detok.flush() : '', finishReason: reason });
  }
}
