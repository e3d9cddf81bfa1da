/**
 * The steps every decoding method shares, in one place: the prompt checked and laid out (positions from the
 * attention mask, image features computed once), the growing attention mask, the prefill that keeps only
 * the last logits (of a whole prompt, or of the part a chat's cache does not hold yet), and one decode step
 * through the KV cache. generate.ts (greedy, sampling), beam_search.ts and chat_session.ts build on these.
 */
import type { DeviceTensor } from '../backend/backend.js';
import * as ops from '../backend/ops.js';
import { InputError, VipLlavaError } from '../errors.js';
import type { KVCache } from '../models/kv_cache.js';
import type { VipLlavaNetwork } from '../models/vipllava.js';
import { readIntMatrix, readMask, Tensor } from '../tensor/tensor.js';
import { resolveGeneration, type GenerateOptions, type ResolvedGeneration } from './options.js';

/** What generation needs of a model. */
export type GenerativeModel = Pick<VipLlavaNetwork, 'config' | 'generationConfig' | 'createCache' | 'imageFeatures' | 'step'>;

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

export function prepare(model: GenerativeModel, o: GenerateOptions): Prepared {
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
export async function prefill(model: GenerativeModel, p: Prepared, cache: KVCache, mask: MaskState, expand: number): Promise<Float32Array> {
  const keyMask = p.promptMask.includes(0) ? p.promptMask : undefined;
  const logits = await finiteLogits(model.step({ ids: p.prompt, batch: p.batch, seq: p.promptLength, positions: p.promptPositions, keyMask, cache, imageFeatures: p.imageFeatures, logitsToKeep: 1 }), 'after the prompt');
  if (expand === 1) return logits;
  cache.reorder(mask.source);
  const out = new Float32Array(mask.source.length * p.vocab);
  mask.source.forEach((b, r) => out.set(logits.subarray(b * p.vocab, (b + 1) * p.vocab), r * p.vocab));
  return out;
}

/** A step's logits read back (and released), checked as `finite` checks them. */
export const finiteLogits = (logits: DeviceTensor, where: string): Promise<Float32Array> => finite(ops.take(logits), where);

/** The logits, or an error when the model gave NaN or infinities (corrupt weights), which no decoding can use. */
async function finite(logits: Promise<Float32Array>, where: string): Promise<Float32Array> {
  const l = await logits;
  for (let i = 0; i < l.length; i++) {
    if (!Number.isFinite(l[i])) throw new VipLlavaError(`the model's logits are not finite (${l[i]}) ${where}; its weights may be corrupt`);
  }
  return l;
}

/** Feeds one token per row at the next position; returns the next logits [rows, vocab]. */
export async function decodeStep(model: GenerativeModel, tokens: Int32Array, cache: KVCache, mask: MaskState): Promise<Float32Array> {
  const positions = Int32Array.from(mask.nextPosition);
  mask.nextPosition.forEach((v, r) => (mask.nextPosition[r] = v + 1));
  const keyMask = mask.view(cache.length + 1);
  return finiteLogits(model.step({ ids: tokens, batch: tokens.length, seq: 1, positions, keyMask, cache, logitsToKeep: 1 }), `at position ${positions[0]}`);
}

/**
 * Runs the tokens of one sequence that `cache` does not hold yet (ids[cache.length...]) at their positions,
 * with the image features of the images among them; the last logits [1, vocab]. A chat session's turn.
 */
export async function prefillSuffix(model: GenerativeModel, ids: readonly number[], cache: KVCache, imageFeatures: DeviceTensor | null): Promise<Float32Array> {
  const start = cache.length;
  const suffix = Int32Array.from(ids.slice(start));
  const positions = Int32Array.from(suffix, (_, k) => start + k);
  return finiteLogits(model.step({ ids: suffix, batch: 1, seq: suffix.length, positions, cache, imageFeatures, logitsToKeep: 1 }), 'after the prompt');
}

/** Each image's tokens, [start, end) in `ids` (back-to-back images split every `perImage` tokens). */
export function imageRuns(ids: number[], imageToken: number, perImage: number): Array<{ start: number; end: number }> {
  const runs: Array<{ start: number; end: number }> = [];
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== imageToken) continue;
    const start = i;
    while (i < ids.length && ids[i] === imageToken) i++;
    for (let s = start; s < i; s += perImage) runs.push({ start: s, end: Math.min(s + perImage, i) });
  }
  return runs;
}

/** A prompt already run through the model (a chat session's cache): its cache and last logits. */
export interface Prefilled {
  cache: KVCache;
  logits: Float32Array;
}

/** Equal-length rows of ids as an int64 tensor. */
export function toTensor(rows: number[][]): Tensor<'int64'> {
  const length = rows[0]?.length ?? 0;
  const data = new BigInt64Array(rows.length * length);
  rows.forEach((row, r) => row.forEach((id, t) => (data[r * length + t] = BigInt(id))));
  return new Tensor('int64', data, [rows.length, length]);
}

