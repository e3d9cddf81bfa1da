/**
 * Image input: a file path, encoded bytes, or decoded pixels, turned into 8-bit RGB the way transformers'
 * `load_image` does with Pillow: EXIF orientation applied, then `convert("RGB")` — alpha dropped (RGBA, LA),
 * grey replicated, palettes looked up, 16-bit RGB reduced to its high byte and 16-bit grey clamped at 255.
 * Decoded pixels and BMP (decoded here) need nothing else; files and other formats go through the runtime's
 * ImageCodec: sharp's libvips in Node (sharp_codec.node.ts), whose decoders gave the same bytes as Pillow's on
 * every fixture.
 */
import { InputError } from '../errors.js';
import { decodeBmp, isBmp } from './bmp.js';

/** 8-bit RGB pixels, row-major, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Decoded pixels from elsewhere (a canvas ImageData is RGBA): 1, 3 or 4 channels, 8 bits each. */
export interface RawImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
  channels?: 1 | 3 | 4;
}

export type ImageInput = string | Uint8Array | RawImage;

/** PIL's decompression-bomb limit: Image.MAX_IMAGE_PIXELS × 2, beyond which Pillow refuses to open. */
export const DEFAULT_MAX_PIXELS = 2 * Math.floor((1024 * 1024 * 1024) / 4 / 3);

export interface LoadImageOptions {
  /** Refuse images with more pixels than this (default: Pillow's limit, 178,956,970). */
  maxPixels?: number;
}

function describe(input: ImageInput): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return `image bytes (${input.length} bytes)`;
  return `decoded image ${input.width}×${input.height}`;
}

export function checkSize(name: string, width: number, height: number, maxPixels: number): void {
  if (!(width > 0 && height > 0)) throw new InputError(`${name}: image has size ${width}×${height}`);
  if (width * height > maxPixels) {
    throw new InputError(`${name}: image is ${width}×${height} = ${width * height} pixels, more than the limit of ${maxPixels} (raise maxPixels to allow it)`);
  }
}

/** Any channel layout → RGB, as PIL's convert("RGB"). */
export function toRgb(data: ArrayLike<number>, width: number, height: number, channels: number, clamp: boolean): Uint8Array {
  const n = width * height;
  const out = new Uint8Array(n * 3);
  const value = (v: number) => (clamp ? Math.min(v, 255) : v);
  for (let i = 0; i < n; i++) {
    if (channels <= 2) {
      const g = value(data[i * channels]);
      out[i * 3] = g;
      out[i * 3 + 1] = g;
      out[i * 3 + 2] = g;
    } else {
      for (let c = 0; c < 3; c++) out[i * 3 + c] = value(data[i * channels + c]);
    }
  }
  return out;
}

/** What the core needs from the runtime to read and decode images. */
export interface ImageCodec {
  /** Encoded bytes (PNG, JPEG, WebP, GIF, TIFF) → 8-bit RGB as Pillow gives it; `name` names the input in errors. */
  decode(bytes: Uint8Array, name: string, maxPixels: number): Promise<RgbImage>;
  /** The bytes of an image file, by path. */
  readFile(path: string): Promise<Uint8Array>;
}

let codec: ImageCodec | null = null;

/** Installs the runtime's image codec (the Node entry installs sharp's). */
export function setImageCodec(c: ImageCodec): void {
  codec = c;
}

function needCodec(name: string): ImageCodec {
  if (!codec) throw new InputError(`${name}: this runtime has no image decoder; pass decoded pixels { width, height, data } (a canvas ImageData) or BMP bytes`);
  return codec;
}

async function decode(bytes: Uint8Array, name: string, maxPixels: number): Promise<RgbImage> {
  if (bytes.length === 0) throw new InputError(`${name}: file is empty`);
  if (isBmp(bytes)) {
    try {
      return decodeBmp(bytes, (width, height) => checkSize(name, width, height, maxPixels));
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(`${name}: cannot decode BMP: ${(e as Error).message}`);
    }
  }
  return needCodec(name).decode(bytes, name, maxPixels);
}

/** Loads an image as 8-bit RGB. Errors name the input. */
export async function loadImage(input: ImageInput, options: LoadImageOptions = {}): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (typeof input !== 'string' && !(input instanceof Uint8Array) && (typeof input !== 'object' || input === null || !('data' in input))) {
    throw new InputError(`image must be a file path, encoded bytes (Uint8Array) or { width, height, data, channels }, got ${input === null ? 'null' : typeof input}`);
  }
  const name = describe(input);
  if (typeof input === 'string') return decode(await needCodec(input).readFile(input), input, maxPixels);
  if (input instanceof Uint8Array) return decode(input, name, maxPixels);
  const channels = input.channels ?? (input.data.length === input.width * input.height * 4 ? 4 : 3);
  if (![1, 3, 4].includes(channels)) throw new InputError(`${name}: channels must be 1, 3 or 4, got ${String(channels)}`);
  if (!(input.data instanceof Uint8Array || input.data instanceof Uint8ClampedArray)) throw new InputError(`${name}: data must be a Uint8Array or Uint8ClampedArray`);
  checkSize(name, input.width, input.height, maxPixels);
  if (input.data.length !== input.width * input.height * channels) {
    throw new InputError(`${name}: data has ${input.data.length} bytes, not ${input.width}×${input.height}×${channels}`);
  }
  return { width: input.width, height: input.height, data: toRgb(input.data, input.width, input.height, channels, false) };
}

/**
 * An image turned as ImageOps.exif_transpose turns an EXIF orientation (2–8) upright: a mirror, a rotation, or
 * both. Output pixel (x, y) takes source pixel (sx, sy).
 */
export function orient(image: RgbImage, orientation: number): RgbImage {
  const { width: w, height: h } = image;
  const swap = orientation >= 5 && orientation <= 8;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const source: Record<number, (x: number, y: number) => [number, number]> = {
    2: (x, y) => [w - 1 - x, y], // FLIP_LEFT_RIGHT
    3: (x, y) => [w - 1 - x, h - 1 - y], // ROTATE_180
    4: (x, y) => [x, h - 1 - y], // FLIP_TOP_BOTTOM
    5: (x, y) => [y, x], // TRANSPOSE
    6: (x, y) => [y, h - 1 - x], // ROTATE_270
    7: (x, y) => [w - 1 - y, h - 1 - x], // TRANSVERSE
    8: (x, y) => [w - 1 - y, x], // ROTATE_90
  };
  const from = source[orientation];
  if (!from) return image;
  const out = new Uint8Array(ow * oh * 3);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const [sx, sy] = from(x, y);
      const s = (sy * w + sx) * 3;
      out.set(image.data.subarray(s, s + 3), (y * ow + x) * 3);
    }
  }
  return { width: ow, height: oh, data: out };
}
