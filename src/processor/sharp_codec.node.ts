/**
 * Image decoding and encoding in Node through sharp (libvips), made to give Pillow's bytes (what transformers'
 * load_image computes): EXIF orientation applied (and, in PNGs, XMP's tiff:Orientation, as Pillow's getexif
 * reads it); embedded ICC profiles ignored, as Pillow ignores them; 16-bit grey clamped at 255 as "I;16" → RGB
 * does; CMYK converted with Pillow's formula; a GIF's transparent pixels given their palette colour; data
 * libjpeg only warns about (extraneous bytes) decoded, truncated data refused.
 */
import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { InputError } from '../errors.js';
import { gifTransparentColour } from './gif.js';
import { checkSize, orient, toRgb, type ImageCodec, type RgbImage } from './image.js';

/** Pillow's CMYK → RGB (libImaging/Convert.c cmyk2rgb): each channel nk − c·nk/255 with nk = 255 − k, rounded as MULDIV255. */
function cmykToRgb(cmyk: Uint8Array, pixels: number, channels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  const muldiv255 = (a: number, b: number) => {
    const t = a * b + 128;
    return ((t >> 8) + t) >> 8;
  };
  for (let i = 0; i < pixels; i++) {
    const nk = 255 - cmyk[i * channels + 3];
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.max(0, Math.min(255, nk - muldiv255(cmyk[i * channels + c], nk)));
  }
  return out;
}

/** The orientation Pillow reads from a PNG's XMP when it has no EXIF orientation (its getexif regex). */
function xmpOrientation(meta: Metadata): number | undefined {
  if (meta.format !== 'png' || meta.orientation !== undefined || !meta.xmp) return undefined;
  const m = /tiff:Orientation(="|>)([0-9])/.exec(meta.xmp.toString('utf8'));
  return m ? Number(m[2]) : undefined;
}

async function decodeWithSharp(bytes: Uint8Array, name: string, maxPixels: number): Promise<RgbImage> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw new InputError(`${name}: not a supported image (PNG, JPEG, WebP, GIF, TIFF or BMP)`);
  }
  checkSize(name, meta.width ?? 0, meta.height ?? 0, maxPixels);
  let image: RgbImage;
  try {
    // failOn 'truncated' refuses cut-off data instead of filling it in (Pillow refuses it too) but decodes what
    // libjpeg only warns about; rotate() applies EXIF; ignoreIcc keeps the stored values, as Pillow does.
    const pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated', pages: 1, ignoreIcc: true }).rotate();
    if (meta.space === 'grey16') {
      // Pillow opens 16-bit grey as "I;16" and convert("RGB") clamps each value at 255.
      const { data, info } = await pipeline.toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
      const values = new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
      image = { width: info.width, height: info.height, data: toRgb(values, info.width, info.height, info.channels, true) };
    } else if (meta.space === 'cmyk') {
      const { data, info } = await pipeline.pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer({ resolveWithObject: true }); // the stored bands
      image = { width: info.width, height: info.height, data: cmykToRgb(data, info.width * info.height, info.channels) };
    } else {
      // sharp's 8-bit output keeps the high byte of 16-bit colour, as Pillow's PNG decoder does.
      const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
      const transparent = meta.format === 'gif' && info.channels === 4 ? gifTransparentColour(bytes) : null;
      if (transparent) {
        // Pillow's convert("RGB") of a palette GIF gives the transparent index its palette colour
        for (let i = 3; i < data.length; i += 4) if (data[i] === 0) data.set(transparent, i - 3);
      }
      image = { width: info.width, height: info.height, data: toRgb(data, info.width, info.height, info.channels, false) };
    }
  } catch (e) {
    throw new InputError(`${name}: cannot decode image (truncated or corrupt?): ${(e as Error).message.split('\n')[0]}`);
  }
  const orientation = xmpOrientation(meta);
  return orientation ? orient(image, orientation) : image;
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
