/** Shape arithmetic and checks that every engine shares, so they refuse the same inputs with the same words. */
import { VipLlavaError } from '../errors.js';

export const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/**
 * How writeAt(dst, src, dim, offset) lays src into dst, as `outer` runs of `n · inner` elements written `total ·
 * inner` apart; throws unless src matches dst outside `dim` and fits at `offset`.
 */
export function writeAtSpan(dst: readonly number[], src: readonly number[], dim: number, offset: number) {
  if (src.length !== dst.length || src.some((d, i) => i !== dim && d !== dst[i])) {
    throw new VipLlavaError(`writeAt: [${src.join(', ')}] does not fit [${dst.join(', ')}] outside dim ${dim}`);
  }
  const n = src[dim];
  const total = dst[dim];
  if (offset + n > total) throw new VipLlavaError(`writeAt: ${offset}+${n} exceeds ${total} along dim ${dim}`);
  return { outer: product(dst.slice(0, dim)), inner: product(dst.slice(dim + 1)), n, total };
}
