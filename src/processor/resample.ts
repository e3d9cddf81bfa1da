/**
 * Pillow's resampling (src/libImaging/Resample.c, 8 bits per channel), reproduced exactly: separable filters
 * whose support widens with the downscale factor, coefficients normalised and turned into 22-bit fixed point,
 * a horizontal pass into an 8-bit intermediate over only the rows the vertical pass reads, then the vertical
 * pass. Its output equals `PIL.Image.resize(size, filter)` byte for byte (reducing_gap=None).
 */
import type { RgbImage } from './image.js';

/** PIL.Image.Resampling values as preprocessor_config.json stores them. */
export const PIL_FILTERS = { NEAREST: 0, LANCZOS: 1, BILINEAR: 2, BICUBIC: 3, BOX: 4, HAMMING: 5 } as const;

interface Filter {
  support: number;
  f: (x: number) => number;
}

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(x * Math.PI) / (x * Math.PI));
const HAMMING_A = Math.fround(0.54); // float literals (0.54f) in Pillow
const HAMMING_B = Math.fround(0.46);

const FILTERS: Record<number, Filter> = {
  [PIL_FILTERS.BOX]: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  [PIL_FILTERS.BILINEAR]: { support: 1, f: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
  [PIL_FILTERS.HAMMING]: {
    support: 1,
    f: (x) => {
      x = Math.abs(x);
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      return (Math.sin(x) / x) * (HAMMING_A + HAMMING_B * Math.cos(x));
    },
  },
  [PIL_FILTERS.BICUBIC]: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  [PIL_FILTERS.LANCZOS]: { support: 3, f: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

/** Per output index: first input index, tap count, and fixed-point weights (`ksize` slots each). */
function coefficients(inSize: number, outSize: number, filter: Filter) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const count = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let sum = 0;
    for (let x = 0; x < count; x++) {
      w[x] = filter.f((x + xmin - center + 0.5) * ss);
      sum += w[x];
    }
    for (let x = 0; x < count; x++) {
      const k = sum !== 0 ? w[x] / sum : w[x];
      // C's (int) cast truncates toward zero: round half away from zero.
      weights[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = count;
  }
  return { bounds, weights, ksize };
}

const clip8 = (acc: number) => {
  const v = Math.floor(acc / ONE); // arithmetic shift by PRECISION_BITS
  return v < 0 ? 0 : v > 255 ? 255 : v;
};

/**
 * Pillow's NEAREST resize (an affine scale, ImagingScaleAffine): source coordinates advance by repeated
 * addition of the scale from the centre of the first pixel, and are truncated.
 */
function resizeNearest(image: RgbImage, width: number, height: number): RgbImage {
  const sx = image.width / width;
  const sy = image.height / height;
  const xin = new Int32Array(width);
  for (let x = 0, xo = sx * 0.5; x < width; x++, xo += sx) xin[x] = Math.min(Math.trunc(xo), image.width - 1);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0, yo = sy * 0.5; y < height; y++, yo += sy) {
    const row = Math.min(Math.trunc(yo), image.height - 1) * image.width;
    for (let x = 0; x < width; x++) out.set(image.data.subarray((row + xin[x]) * 3, (row + xin[x]) * 3 + 3), (y * width + x) * 3);
  }
  return { width, height, data: out };
}

/** Resizes an RGB image to width × height with a PIL filter (0–5); returns the input if nothing changes. */
export function resizePil(image: RgbImage, width: number, height: number, resample: number): RgbImage {
  if (width === image.width && height === image.height) return image;
  if (resample === PIL_FILTERS.NEAREST) return resizeNearest(image, width, height);
  const filter = FILTERS[resample];
  if (!filter) throw new RangeError(`resample ${resample} is not a Pillow filter (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)`);
  const vert = coefficients(image.height, height, filter);
  let src = image;
  let rowShift = 0;
  if (width !== image.width) {
    // Horizontal pass over only the rows the vertical pass will read.
    const first = vert.bounds[0];
    const last = vert.bounds[(height - 1) * 2] + vert.bounds[(height - 1) * 2 + 1];
    const { bounds, weights, ksize } = coefficients(image.width, width, filter);
    const rows = last - first;
    const out = new Uint8Array(width * rows * 3);
    for (let y = 0; y < rows; y++) {
      const inRow = (y + first) * image.width * 3;
      for (let xx = 0; xx < width; xx++) {
        const xmin = bounds[xx * 2];
        const count = bounds[xx * 2 + 1];
        const k = xx * ksize;
        let r = ONE / 2;
        let g = ONE / 2;
        let b = ONE / 2;
        for (let x = 0; x < count; x++) {
          const p = inRow + (x + xmin) * 3;
          const w = weights[k + x];
          r += image.data[p] * w;
          g += image.data[p + 1] * w;
          b += image.data[p + 2] * w;
        }
        const o = (y * width + xx) * 3;
        out[o] = clip8(r);
        out[o + 1] = clip8(g);
        out[o + 2] = clip8(b);
      }
    }
    src = { width, height: rows, data: out };
    rowShift = first;
  }
  if (height === image.height) return src;
  const out = new Uint8Array(width * height * 3);
  const { bounds, weights, ksize } = vert;
  for (let yy = 0; yy < height; yy++) {
    const ymin = bounds[yy * 2] - rowShift;
    const count = bounds[yy * 2 + 1];
    const k = yy * ksize;
    for (let xx = 0; xx < width; xx++) {
      let r = ONE / 2;
      let g = ONE / 2;
      let b = ONE / 2;
      for (let y = 0; y < count; y++) {
        const p = ((y + ymin) * width + xx) * 3;
        const w = weights[k + y];
        r += src.data[p] * w;
        g += src.data[p + 1] * w;
        b += src.data[p + 2] * w;
      }
      const o = (yy * width + xx) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return { width, height, data: out };
}
