/**
 * Continuous batching: many single-sequence requests decoded together, one model step per token for all of them.
 * A new request is prefilled alone (as generate() would), then joins the running batch at the next step; a
 * finished, aborted or timed-out one leaves it there. Each row keeps its own positions, attention mask, settings
 * (processors, sampling generator, stop strings, limits) and history, so its tokens are those it gets alone. The
 * batch's KV cache is rebuilt, each row right-aligned, whenever rows join or leave (KVCache.assemble).
 *
 * Finished sequences are kept (up to `prefixCacheBytes`, least recently used first out): a request whose prompt
 * starts with one of them (a conversation's next turn: the same images, the same earlier messages) reuses its
 * keys and values, so neither the vision tower nor the shared tokens run again; only the rest is prefilled.
 */
import { InputError } from '../errors.js';
import { KVCache } from '../models/kv_cache.js';
import { nextTurn } from '../platform.js';
import { Rng } from '../rng.js';
import { IncrementalDetokenizer } from './detokenizer.js';
import { pickToken, type FinishReason, type TokenEvent } from './generate.js';
import type { GenerateOptions } from './options.js';
import { Tensor } from '../tensor/tensor.js';
import { finiteLogits, imageRuns, MaskState, prefill, prefillSuffix, prepare, type GenerativeModel, type Prepared } from './steps.js';
import { StopStringMatcher } from './stopping.js';

/** Positions a batch cache grows by at a time, so rows that may run long do not hold their whole limit from the start. */
const GROW = 256;

export interface BatcherOptions {
  /** Rows decoded together at most; more requests wait their turn in arrival order. */
  maxBatch: number;
  /** Called whenever the batch or the waiting list changes size. */
  onChange?: (running: number, waiting: number) => void;
  /** Memory for finished sequences' keys and values, reused by prompts that extend them (default 2 GiB; 0: off). */
  prefixCacheBytes?: number;
  /** Called when a request takes `tokens` prompt tokens from a stored sequence. */
  onReuse?: (tokens: number) => void;
}

/** A finished sequence's keys and values, and what they are of. */
interface Stored {
  ids: number[];
  /** Content hashes of its images, in order. */
  images: string[];
  cache: KVCache;
  bytes: number;
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
  /** Content hashes of its images, in order (made at admission). */
  images: string[];
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
  private readonly stored: Stored[] = [];
  /** How many prompt tokens requests have taken from stored sequences instead of prefilling them. */
  reusedTokens = 0;

  constructor(
    readonly model: GenerativeModel,
    readonly options: BatcherOptions,
  ) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) throw new InputError(`maxBatch must be a positive integer, got ${options.maxBatch}`);
  }

  /** Requests generating now and waiting to join (finished ones leave at the next step but are not counted). */
  get size(): { running: number; waiting: number } {
    return { running: this.running.filter((r) => !r.events.ended).length, waiting: this.waiting.length };
  }

  /**
   * Generates for one prompt row (greedy or sampling, one sequence) within the shared batch; events as
   * generateStream's. The request is checked before it waits: a bad one throws at once.
   */
  async *generate(o: GenerateOptions): AsyncGenerator<TokenEvent> {
    const p = prepare(this.model, { ...o, pixelValues: undefined }); // the vision tower runs at admission, if at all
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
      started: performance.now(),
      cache: null as unknown as KVCache,
      cacheRow: 0,
      images: [],
    };
    // A request that is aborted or abandoned while it waits leaves the queue at once; a running one, at the next step.
    const leaveQueue = () => {
      const at = this.waiting.indexOf(row);
      if (at < 0) return;
      this.waiting.splice(at, 1);
      this.finish(row, 'abort');
      this.changed();
    };
    o.signal?.addEventListener('abort', leaveQueue, { once: true });
    this.waiting.push(row);
    this.changed();
    this.loop ??= this.run().finally(() => (this.loop = null));
    try {
      yield* row.events.drain();
    } finally {
      o.signal?.removeEventListener('abort', leaveQueue);
      leaveQueue();
      row.events.ended = true; // the consumer stopped reading
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

  /** Prefills a waiting request alone (or the part no stored sequence holds) and emits its first token; false when it already ended. */
  private async admit(row: Row): Promise<boolean> {
    if (row.o.signal?.aborted || row.events.ended) {
      this.finish(row, 'abort');
      return false;
    }
    const ids = Array.from(row.p.prompt);
    if (row.o.pixelValues) row.images = await imageHashes(row.o.pixelValues);
    const prefix = row.p.promptMask.includes(0) ? null : this.longestPrefix(ids, row.images);
    let logits: Float32Array;
    if (prefix) {
      row.cache = KVCache.assemble([{ cache: prefix.from.cache, row: 0, start: 0, end: prefix.length }], ids.length);
      const fresh = prefix.runs.filter((r) => r.start >= prefix.length).map((r) => r.index);
      const features = fresh.length ? this.model.imageFeatures(images(row.o.pixelValues!, fresh)) : null;
      logits = await prefillSuffix(this.model, ids, row.cache, features);
      row.nextPosition = ids.length;
      this.reusedTokens += prefix.length;
      this.options.onReuse?.(prefix.length);
      this.stored.push(...this.stored.splice(this.stored.indexOf(prefix.from), 1)); // most recently used last
    } else {
      if (row.o.pixelValues) row.p.imageFeatures = this.model.imageFeatures(row.o.pixelValues);
      const mask = new MaskState(row.p, Int32Array.of(0), row.p.settings.maxLength);
      row.cache = this.model.createCache(1, row.p.promptLength);
      logits = await prefill(this.model, row.p, row.cache, mask, 1);
      row.nextPosition = mask.nextPosition[0];
    }
    row.cacheRow = 0;
    return this.choose(row, logits, row.p.promptLength);
  }

  /** The stored sequence sharing the longest start with `ids` (whole images only, the same images), or null. */
  private longestPrefix(ids: number[], hashes: string[]) {
    const c = this.model.config;
    const runs = imageRuns(ids, c.image_token_index, c.imageTokensPerImage).map((r, index) => ({ ...r, index }));
    let best: { from: Stored; length: number; runs: typeof runs } | null = null;
    for (const s of this.stored) {
      let length = 0;
      const limit = Math.min(s.ids.length, ids.length - 1); // at least one token is prefilled, for the logits
      while (length < limit && s.ids[length] === ids[length]) length++;
      for (const r of runs) {
        if (r.start >= length) break;
        if (r.end > length || s.images[r.index] !== hashes[r.index]) {
          length = r.start; // never half an image, never another image's keys
          break;
        }
      }
      if (length > 0 && length > (best?.length ?? 0)) best = { from: s, length, runs };
    }
    return best;
  }

  /** Keeps a finished row's keys and values for prompts that extend it, within the memory budget. */
  private remember(r: Row): void {
    const budget = this.options.prefixCacheBytes ?? 2 ** 31;
    if (budget <= 0 || r.p.promptMask.includes(0)) return;
    const positions = r.mask.length;
    const t = this.model.config.text_config;
    const bytes = positions * t.num_hidden_layers * 2 * t.num_key_value_heads * t.head_dim * (r.cache.dtype === 'float16' ? 2 : 4);
    if (bytes > budget) return;
    const cache = KVCache.assemble([{ cache: r.cache, row: r.cacheRow, start: r.cache.length - positions, end: r.cache.length }], positions);
    this.stored.push({ ids: r.sequence.slice(0, positions), images: r.images, cache, bytes });
    let total = this.stored.reduce((s, e) => s + e.bytes, 0);
    while (total > budget) total -= this.stored.shift()!.bytes;
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
    const timeUp = s.maxTime !== null && (performance.now() - r.started) / 1000 > s.maxTime;
    const event = pickToken(s, r.o, scores, r.sequence, { rng: r.rng, detok: r.detok, stops: r.stops, timeUp, last: length + 1 >= s.maxLength });
    r.token = event.token;
    if (event.finishReason) this.remember(r);
    r.events.push(event);
    return !event.finishReason;
  }

  private finish(r: Row, reason: FinishReason): void {
    if (r.events.ended) return;
    r.events.push({ row: 0, token: -1, text: r.detok ? r.detok.flush() : '', finishReason: reason });
  }
}

/** A content hash (SHA-256) of each image in pixel values [N, 3, H, W]. */
async function imageHashes(pixels: Tensor): Promise<string[]> {
  const n = pixels.dims[0];
  const data = pixels.data as Float32Array;
  const per = data.length / n;
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const bytes = new Uint8Array(data.buffer, data.byteOffset + i * per * data.BYTES_PER_ELEMENT, per * data.BYTES_PER_ELEMENT);
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes.slice())); // a copy: digest takes no shared memory
      return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    }),
  );
}

/** The images `indices` of pixel values [N, 3, H, W], as pixel values of their own. */
function images(pixels: Tensor, indices: number[]): Tensor {
  const data = pixels.data as Float32Array;
  const per = data.length / pixels.dims[0];
  const out = new Float32Array(indices.length * per);
  indices.forEach((i, k) => out.set(data.subarray(i * per, (i + 1) * per), k * per));
  return new Tensor('float32', out, [indices.length, ...pixels.dims.slice(1)]);
}
