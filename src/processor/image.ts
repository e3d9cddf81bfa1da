/**
 * Image input: a file path, encoded bytes, or decoded pixels, turned into 8-bit RGB the way transformers'
 * `load_image` does with Pillow: EXIF orientation applied, then `convert("RGB")` — alpha dropped (RGBA, LA),
 * grey replicated, palettes looked up, 16-bit RGB reduced to its high byte and 16-bit grey clamped at 255.
 * Decoding is sharp's (libvips), whose decoders gave the same bytes as Pillow's on every fixture; BMP, which
 * libvips lacks, has a decoder here.
 */
import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
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

function checkSize(name: string, width: number, height: number, maxPixels: number): void {
  if (!(width > 0 && height > 0)) throw new InputError(`${name}: image has size ${width}×${height}`);
  if (width * height > maxPixels) {
    throw new InputError(`${name}: image is ${width}×${height} = ${width * height} pixels, more than the limit of ${maxPixels} (raise maxPixels to allow it)`);
  }
}

/** Any channel layout → RGB, as PIL's convert("RGB"). */
function toRgb(data: ArrayLike<number>, width: number, height: number, channels: number, clamp: boolean): Uint8Array {
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

async function decode(bytes: Uint8Array, name: string, maxPixels: number): Promise<RgbImage> {
  if (bytes.length === 0) throw new InputError(`${name}: file is empty`);
  if (isBmp(bytes)) {
    try {
      const bmp = decodeBmp(bytes);
      checkSize(name, bmp.width, bmp.height, maxPixels);
      return bmp;
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(`${name}: cannot decode BMP: ${(e as Error).message}`);
    }
  }
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw new InputError(`${name}: not a supported image (PNG, JPEG, WebP, GIF, TIFF or BMP)`);
  }
  checkSize(name, meta.width ?? 0, meta.height ?? 0, maxPixels);
  try {
    // failOn 'warning' refuses truncated or corrupt data instead of filling it in; rotate() applies EXIF.
    let pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'warning', pages: 1 }).rotate();
    if (meta.space === 'grey16') {
      // Pillow opens 16-bit grey as "I;16" and convert("RGB") clamps each value at 255.
      const { data, info } = await pipeline.toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
      const values = new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
      return { width: info.width, height: info.height, data: toRgb(values, info.width, info.height, info.channels, true) };
    }
    // sharp's 8-bit output keeps the high byte of 16-bit colour, as Pillow's PNG decoder does.
    if (meta.space === 'cmyk') pipeline = pipeline.toColourspace('srgb');
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: toRgb(data, info.width, info.height, info.channels, false) };
  } catch (e) {
    throw new InputError(`${name}: cannot decode image (truncated or corrupt?): ${(e as Error).message.split('\n')[0]}`);
  }
}

/** Loads an image as 8-bit RGB. Errors name the input. */
export async function loadImage(input: ImageInput, options: LoadImageOptions = {}): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const name = describe(input);
  if (typeof input === 'string') {
    let bytes: Buffer;
    try {
      const s = await stat(input);
      if (!s.isFile()) throw new InputError(`${input}: not a file`);
      bytes = await readFile(input);
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(`${input}: cannot read image (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return decode(bytes, input, maxPixels);
  }
  if (input instanceof Uint8Array) return decode(input, name, maxPixels);
  if (typeof input !== 'object' || input === null || !('data' in input)) {
    throw new InputError('image must be a file path, encoded bytes (Uint8Array) or { width, height, data, channels }');
  }
  const channels = input.channels ?? (input.data.length === input.width * input.height * 4 ? 4 : 3);
  checkSize(name, input.width, input.height, maxPixels);
  if (input.data.length !== input.width * input.height * channels) {
    throw new InputError(`${name}: data has ${input.data.length} bytes, not ${input.width}×${input.height}×${channels}`);
  }
  return { width: input.width, height: input.height, data: toRgb(input.data, input.width, input.height, channels, false) };
}

/** Writes an RGB image to a file; the format follows the extension (png, jpg/jpeg, webp, tiff). */
export async function saveImage(image: RgbImage, path: string): Promise<void> {
  const ext = path.toLowerCase().split('.').pop();
  if (!['png', 'jpg', 'jpeg', 'webp', 'tif', 'tiff'].includes(ext ?? '')) {
    throw new InputError(`${path}: cannot tell the image format from the extension (use .png, .jpg, .webp or .tiff)`);
  }
  try {
    await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.length), { raw: { width: image.width, height: image.height, channels: 3 } }).toFile(path);
  } catch (e) {
    throw new InputError(`cannot write ${path}: ${(e as Error).message}`);
  }
}
