/** Shape arithmetic and checks that every engine shares, so they refuse the same inputs with the same words. */
import { VipLlavaError } from '../errors.js';
import type { PositionInputs } from './backend.js';

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

/** The patch grid of patchEmbed(pixels [N, C, S, S], weight [hidden, C, p, p]), checked. */
export interface PatchGrid {
  images: number;
  channels: number;
  size: number;
  patch: number;
  /** Patches per image, (S / p)². */
  patches: number;
  /** Columns of one patch row, C · p². */
  patchLen: number;
  hidden: number;
}

export function patchGrid(pixels: readonly number[], weight: readonly number[]): PatchGrid {
  if (weight.length !== 4 || weight[2] !== weight[3] || weight[1] !== pixels[1]) {
    throw new VipLlavaError(`patchEmbed: weight [${weight.join(', ')}] does not fit pixels [${pixels.join(', ')}]`);
  }
  const [images, channels, size, width] = pixels;
  const patch = weight[2];
  if (pixels.length !== 4 || size !== width || size % patch !== 0) {
    throw new VipLlavaError(`patchEmbed: pixels [${pixels.join(', ')}] are not square images divisible into ${patch}-pixel patches`);
  }
  return { images, channels, size, patch, patches: (size / patch) ** 2, patchLen: channels * patch * patch, hidden: weight[0] };
}

/**
 * im2col for a stride-equals-kernel convolution: pixels [N, C, S, S] → one row per patch (row-major over the
 * grid), its columns ordered (channel, ky, kx) as a conv weight [hidden, C, p, p] flattens.
 */
export function im2col(pixels: Float32Array, g: PatchGrid): Float32Array {
  const { images, channels: ch, size, patch } = g;
  const side = size / patch;
  const cols = new Float32Array(images * g.patches * g.patchLen);
  let o = 0;
  for (let n = 0; n < images; n++) {
    for (let py = 0; py < side; py++) {
      for (let px = 0; px < side; px++) {
        for (let c = 0; c < ch; c++) {
          for (let ky = 0; ky < patch; ky++) {
            const row = ((n * ch + c) * size + py * patch + ky) * size + px * patch;
            for (let kx = 0; kx < patch; kx++) cols[o++] = pixels[row + kx];
          }
        }
      }
    }
  }
  return cols;
}

/** The rope inputs of a forward, checked against x's rows. */
export function ropeInputs(inputs: PositionInputs, rows: number): { positions: Int32Array; invFreq: Float32Array; scaling: number } {
  const { positions, invFreq, ropeScaling = 1 } = inputs.host;
  if (!positions || !invFreq) throw new VipLlavaError('rope: the position inputs carry no positions or frequencies');
  if (positions.length !== rows) throw new VipLlavaError(`rope: ${positions.length} positions for ${rows} rows`);
  return { positions, invFreq, scaling: ropeScaling };
}
