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
  ) {
    const dims = [batchSize, maxLength, kvWidth];
    this.keys = Array.from({ length: numLayers }, () => backend.zeros(dims, dtype));
    this.values = Array.from({ length: numLayers }, () => backend.zeros(dims, dtype));
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

  /** Called once every layer has written `count` positions. */
  advance(count: number): void {
    this.length += count;
  }
}
