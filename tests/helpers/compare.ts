import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';

/** max |a - e| / max |e|: the error relative to the tensor's scale. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'lengths differ');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Asserts shape equality and relative error within `tolerance`, naming the stage on failure. */
export function assertClose(actual: Tensor, expected: Tensor, tolerance: number, stage: string): void {
  assert.deepEqual(actual.dims, expected.dims, `${stage}: shape`);
  const err = relativeError(actual.toFloat32(), expected.toFloat32());
  assert.ok(err <= tolerance, `${stage}: relative error ${err.toExponential(2)} exceeds ${tolerance}`);
}

/** Rows [start, start+count) along the first axis. */
export function slice0(t: Tensor, start: number, count = 1): Tensor {
  const inner = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = t.toFloat32().slice(start * inner, (start + count) * inner);
  return new Tensor('float32', data, [count, ...t.dims.slice(1)]);
}
