import type { Backend, DeviceTensor } from '../backend/backend.js';
import type { KVDtype } from '../vocabulary.js';
import { InputError } from '../errors.js';
import * as ops from '../backend/ops.js';

/**
 * Keys (after RoPE) and values of every text layer, preallocated in backend memory as
 * [batch, maxLength, numKvHeads·headDim] per layer (float32, or float16 to halve its memory and bandwidth)
 * and filled by appending at the current length.
 */
export class KVCache {
  readonly keys: DeviceTensor[];
  readonly values: DeviceTensor[];
  /** Positions filled so far (the same for every row; padding is expressed by the attention mask). */
  length = 0;

  constructor(
    backend: Backend,
    numLayers: number,
    public batchSize: number,
    public maxLength: number,
    kvWidth: number,
    readonly dtype: KVDtype = 'float32',
    /** The layers' tensors when they exist already (assemble); otherwise zeros are allocated. */
    tensors?: { keys: DeviceTensor[]; values: DeviceTensor[] },
  ) {
    const dims = [batchSize, maxLength, kvWidth];
    this.keys = tensors?.keys ?? Array.from({ length: numLayers }, () => backend.zeros(dims, dtype));
    this.values = tensors?.values ?? Array.from({ length: numLayers }, () => backend.zeros(dims, dtype));
  }

  /** Throws unless `count` more positions fit. */
  reserve(count: number, batchSize: number): void {
    if (batchSize !== this.batchSize) {
      throw new InputError(`the KV cache was made for batch size ${this.batchSize}, not ${batchSize}`);
    }
    if (this.length + count > this.maxLength) {
      throw new InputError(`the KV cache holds ${this.maxLength} positions; ${this.length} + ${count} do not fit`);
    }
  }

  /** Writes layer `layer`'s new k, v [batch, count, width] at the current length. */
  write(layer: number, k: DeviceTensor, v: DeviceTensor): void {
    ops.writeAt(this.keys[layer], k, 1, this.length);
    ops.writeAt(this.values[layer], v, 1, this.length);
  }

  /** Rows in a new order (beam search): row i becomes old row rows[i]; the batch size may change. */
  reorder(rows: Int32Array): void {
    for (let l = 0; l < this.keys.length; l++) {
      this.keys[l] = ops.indexSelect(this.keys[l], rows);
      this.values[l] = ops.indexSelect(this.values[l], rows);
    }
    this.batchSize = rows.length;
  }

  /** Makes room for `maxLength` positions, keeping what is cached. */
  grow(maxLength: number): void {
    if (maxLength <= this.maxLength) return;
    for (const list of [this.keys, this.values]) {
      for (let l = 0; l < list.length; l++) {
        const old = list[l];
        const bigger = old.backend.zeros([old.dims[0], maxLength, old.dims[2]], this.dtype);
        if (this.length > 0) ops.writeAt(bigger, ops.narrow(old, 1, 0, this.length), 1, 0);
        list[l] = bigger;
      }
    }
    this.maxLength = maxLength;
  }

  /** Forgets every position from `length` on (they are overwritten by the next writes). */
  truncate(length: number): void {
    if (length < 0 || length > this.length) throw new InputError(`cannot truncate a KV cache of ${this.length} positions to ${length}`);
    this.length = length;
  }

  /**
   * A new cache whose row i holds positions [start, end) of row `row` of `cache`, right-aligned so that every row
   * ends at the new cache's length (the longest row's); what lies before a shorter row is left to the attention
   * mask. Continuous batching rebuilds its batch this way when requests join or leave.
   */
  static assemble(rows: ReadonlyArray<{ cache: KVCache; row: number; start: number; end: number }>, maxLength: number): KVCache {
    const first = rows[0].cache;
    const backend = first.keys[0].backend;
    const width = first.keys[0].dims[2];
    const length = Math.max(...rows.map((r) => r.end - r.start));
    if (length > maxLength) throw new InputError(`cannot assemble ${length} positions into a KV cache of ${maxLength}`);
    const layer = (which: 'keys' | 'values', l: number) => {
      const parts = rows.map(({ cache, row, start, end }) => {
        const part = backend.zeros([1, maxLength, width], first.dtype); // [1, maxLength, width]
        if (end > start) ops.writeAt(part, ops.narrow(ops.narrow(cache[which][l], 0, row, 1), 1, start, end - start), 1, length - (end - start));
        return part;
      });
      return parts.length === 1 ? parts[0] : ops.concat(parts, 0); // [rows, maxLength, width]
    };
    const layers = Array.from({ length: first.keys.length }, (_, l) => l);
    const out = new KVCache(backend, layers.length, rows.length, maxLength, width, first.dtype, {
      keys: layers.map((l) => layer('keys', l)),
      values: layers.map((l) => layer('values', l)),
    });
    out.length = length;
    return out;
  }

  /** Called once every layer has written `count` positions. */
  advance(count: number): void {
    this.length += count;
  }
}
