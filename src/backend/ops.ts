/**
 * The op functions model code calls. Each dispatches to the backend that owns its first tensor, so models
 * never name a backend.
 */
import type { AttentionOptions, DeviceTensor, PositionInputs } from './backend.js';
import type { Activation } from '../vocabulary.js';

export type { DeviceTensor } from './backend.js';

export const linear = (x: DeviceTensor, w: DeviceTensor, bias?: DeviceTensor | null) => x.backend.linear(x, w, bias);
export const add = (a: DeviceTensor, b: DeviceTensor) => a.backend.add(a, b);
export const mul = (a: DeviceTensor, b: DeviceTensor) => a.backend.mul(a, b);
export const act = (x: DeviceTensor, kind: Activation) => x.backend.activation(x, kind);
export const layerNorm = (x: DeviceTensor, w: DeviceTensor, b: DeviceTensor, eps: number) => x.backend.layerNorm(x, w, b, eps);
export const rmsNorm = (x: DeviceTensor, w: DeviceTensor, eps: number) => x.backend.rmsNorm(x, w, eps);
export const reshape = (x: DeviceTensor, dims: readonly number[]) => x.backend.reshape(x, dims);
export const narrow = (x: DeviceTensor, dim: number, start: number, length: number) => x.backend.narrow(x, dim, start, length);
export const concat = (xs: readonly DeviceTensor[], dim: number) => xs[0].backend.concat(xs, dim);
export const expand = (x: DeviceTensor, dims: readonly number[]) => x.backend.expand(x, dims);
export const writeAt = (dst: DeviceTensor, src: DeviceTensor, dim: number, offset: number) => dst.backend.writeAt(dst, src, dim, offset);
export const indexSelect = (x: DeviceTensor, indices: Int32Array) => x.backend.indexSelect(x, indices);
export const embedding = (table: DeviceTensor, ids: Int32Array) => table.backend.embedding(table, ids);
export const scatterRows = (dst: DeviceTensor, rows: Int32Array, src: DeviceTensor) => dst.backend.scatterRows(dst, rows, src);
export const rope = (x: DeviceTensor, inputs: PositionInputs, headDim: number) => x.backend.rope(x, inputs, headDim);
export const patchEmbed = (pixels: DeviceTensor, weight: DeviceTensor) => weight.backend.patchEmbed(pixels, weight);
export const attention = (q: DeviceTensor, k: DeviceTensor, v: DeviceTensor, o: AttentionOptions) => q.backend.attention(q, k, v, o);
export const read = (x: DeviceTensor) => x.backend.read(x);
/** x's values read back, and x released (a step's logits, read once). */
export async function take(x: DeviceTensor): Promise<Float32Array> {
  try {
    return await x.backend.read(x);
  } finally {
    x.backend.release(x);
  }
}
/** fn(), with the intermediates it creates on x's backend released when it returns (all but the result). */
export const tidy = (x: DeviceTensor, fn: () => DeviceTensor) => (x.backend.tidy ? x.backend.tidy(fn) : fn());
