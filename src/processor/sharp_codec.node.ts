/**
 * Image decoding and encoding in Node through sharp (libvips), whose decoders gave the same bytes as Pillow's
 * on every fixture: EXIF orientation applied, 16-bit grey clamped at 255 as Pillow's "I;16" → RGB does,
 * CMYK converted to sRGB, truncated or corrupt data refused.
 */
import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { InputError } from '../errors.js';
import { checkSize, toRgb, type ImageCodec, type RgbImage } from './image.js';

async function decodeWithSharp(bytes: Uint8Array, name: string, maxPixels: number): Promise<RgbImage> {
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

async function readImageFile(path: string): Promise<Uint8Array> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new InputError(`${path}: not a file`);
    return await readFile(path);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${path}: cannot read image (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export const sharpCodec: ImageCodec = { decode: decodeWithSharp, readFile: readImageFile };

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
