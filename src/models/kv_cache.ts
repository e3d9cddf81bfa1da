import type { Backend, DeviceTensor } from '../backend/backend.js';
import { InputError } from '../errors.js';
import * as ops from '../tensor/ops.js';

/**
 * Keys (after RoPE) and values of every text layer, preallocated in backend memory as
 * [batch, maxLength, numKvHeads·headDim] per layer and filled by appending at the current length.
 */
export class KVCache {
  readonly keys: DeviceTensor[];
  readonly values: DeviceTensor[];
  /** Positions filled so far (the same for every row; padding is expressed by the attention mask). */
  length = 0;

  constructor(
    backend: Backend,
    numLayers: number,
    readonly batchSize: number,
    readonly maxLength: number,
    kvWidth: number,
  ) {
    const dims = [batchSize, maxLength, kvWidth];
    this.keys = Array.from({ length: numLayers }, () => backend.zeros(dims));
    this.values = Array.from({ length: numLayers }, () => backend.zeros(dims));
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

  /** Called once every layer has written `count` positions. */
  advance(count: number): void {
    this.length += count;
  }
}
