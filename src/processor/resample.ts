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

/**
 * Per output index in [start, start + n): first input index, tap count, and fixed-point weights (`ksize` slots
 * each). Each index's coefficients depend on that index alone, so a window of the output costs only its size.
 */
function coefficients(inSize: number, outSize: number, filter: Filter, start = 0, n = outSize) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(n * 2);
  const weights = new Int32Array(n * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < n; xx++) {
    const center = (xx + start + 0.5) * scale;
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

/** The part of a resize's output to compute: rows [top, bottom) and columns [left, right). */
export interface Window {
  top: number;
  left: number;
  bottom: number;
  right: number;
}

/**
 * Pillow's NEAREST resize (an affine scale, ImagingScaleAffine): source coordinates advance by repeated
 * addition of the scale from the centre of the first pixel, and are truncated (so they are summed from the
 * first pixel even when only a window is kept).
 */
function resizeNearest(image: RgbImage, width: number, height: number, win: Window): RgbImage {
  const sx = image.width / width;
  const sy = image.height / height;
  const w = win.right - win.left;
  const xin = new Int32Array(w);
  for (let x = 0, xo = sx * 0.5; x < win.right; x++, xo += sx) if (x >= win.left) xin[x - win.left] = Math.min(Math.trunc(xo), image.width - 1);
  const out = new Uint8Array(w * (win.bottom - win.top) * 3);
  for (let y = 0, yo = sy * 0.5; y < win.bottom; y++, yo += sy) {
    if (y < win.top) continue;
    const row = Math.min(Math.trunc(yo), image.height - 1) * image.width;
    for (let x = 0; x < w; x++) out.set(image.data.subarray((row + xin[x]) * 3, (row + xin[x]) * 3 + 3), ((y - win.top) * w + x) * 3);
  }
  return { width: w, height: win.bottom - win.top, data: out };
}

/** The window of an image, copied (the image itself when the window is all of it). */
function cut(image: RgbImage, win: Window): RgbImage {
  const w = win.right - win.left;
  const h = win.bottom - win.top;
  if (w === image.width && h === image.height) return image;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) out.set(image.data.subarray(((y + win.top) * image.width + win.left) * 3, ((y + win.top) * image.width + win.right) * 3), y * w * 3);
  return { width: w, height: h, data: out };
}

/**
 * Resizes an RGB image to width × height with a PIL filter (0–5); returns the input if nothing changes. With
 * `win`, only that part of the output is computed and returned, each pixel as the whole resize gives it.
 */
export function resizePil(image: RgbImage, width: number, height: number, resample: number, win: Window = { top: 0, left: 0, bottom: height, right: width }): RgbImage {
  if (width === image.width && height === image.height) return cut(image, win);
  if (resample === PIL_FILTERS.NEAREST) return resizeNearest(image, width, height, win);
  const filter = FILTERS[resample];
  if (!filter) throw new RangeError(`resample ${resample} is not a Pillow filter (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)`);
  const outW = win.right - win.left;
  const outH = win.bottom - win.top;
  const vert = coefficients(image.height, height, filter, win.top, outH);
  let src: RgbImage = image;
  let rowShift = 0;
  let colShift = win.left; // the column of src that is the window's first
  if (width !== image.width) {
    // Horizontal pass over only the rows the vertical pass will read, and only the window's columns.
    const first = vert.bounds[0];
    const last = vert.bounds[(outH - 1) * 2] + vert.bounds[(outH - 1) * 2 + 1];
    const { bounds, weights, ksize } = coefficients(image.width, width, filter, win.left, outW);
    const rows = last - first;
    const out = new Uint8Array(outW * rows * 3);
    for (let y = 0; y < rows; y++) {
      const inRow = (y + first) * image.width * 3;
      for (let xx = 0; xx < outW; xx++) {
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
        const o = (y * outW + xx) * 3;
        out[o] = clip8(r);
        out[o + 1] = clip8(g);
        out[o + 2] = clip8(b);
      }
    }
    src = { width: outW, height: rows, data: out };
    rowShift = first;
    colShift = 0;
  }
  if (height === image.height) return cut(src, { top: win.top - rowShift, bottom: win.bottom - rowShift, left: colShift, right: colShift + outW });
  const out = new Uint8Array(outW * outH * 3);
  const { bounds, weights, ksize } = vert;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2] - rowShift;
    const count = bounds[yy * 2 + 1];
    const k = yy * ksize;
    for (let xx = 0; xx < outW; xx++) {
      let r = ONE / 2;
      let g = ONE / 2;
      let b = ONE / 2;
      for (let y = 0; y < count; y++) {
        const p = ((y + ymin) * src.width + xx + colShift) * 3;
        const w = weights[k + y];
        r += src.data[p] * w;
        g += src.data[p + 1] * w;
        b += src.data[p + 2] * w;
      }
      const o = (yy * outW + xx) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return { width: outW, height: outH, data: out };
}
