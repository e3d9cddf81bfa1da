/**
 * Image decoding and encoding in Node through sharp (libvips), made to give Pillow's bytes (what transformers'
 * load_image computes): EXIF orientation applied (and, in PNGs, XMP's tiff:Orientation, as Pillow's getexif
 * reads it); embedded ICC profiles ignored, as Pillow ignores them; 16-bit grey clamped at 255 as "I;16" → RGB
 * does; CMYK converted with Pillow's formula; a GIF's transparent pixels given their palette colour; data
 * libjpeg only warns about (extraneous bytes) decoded, truncated data refused. LAB and 12-bit TIFFs, which
 * libvips does not open, are read by tiff.ts.
 */
import { readFile, stat } from 'node:fs/promises';
import { constants as zlibConstants, crc32, inflateSync } from 'node:zlib';
import sharp, { type Metadata } from 'sharp';
import { InputError } from '../errors.js';
import { gifTransparentColour } from './gif.js';
import { checkSize, orient, toRgb, type ImageCodec, type RgbImage } from './image.js';
import { labToRgb } from './lab_to_rgb.node.js';
import { readPillowOnlyTiff, type Inflate } from './tiff.js';

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

/** Pillow's limits on PNG text: one chunk decompressed (ImageFile.SAFEBLOCK), and all of them. */
const MAX_TEXT_CHUNK = 1 << 20;
const MAX_TEXT_MEMORY = 64 << 20;

/**
 * A PNG as Pillow's reader sees it, before libvips does: compressed text chunks past Pillow's limits are
 * refused as Pillow refuses them, and an IHDR compression method other than 0, which Pillow ignores and libpng
 * refuses, is read as 0. Other files come back as they are.
 */
function asPillowReadsPng(bytes: Uint8Array, name: string): Uint8Array {
  const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 33 || PNG.some((b, i) => bytes[i] !== b)) return bytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out = bytes;
  if (bytes[26] !== 0) {
    out = bytes.slice();
    out[26] = 0; // IHDR compression method
    new DataView(out.buffer).setUint32(29, crc32(out.subarray(12, 29)) >>> 0);
  }
  let text = 0;
  for (let at = 8; at + 8 <= bytes.length; ) {
    const length = view.getUint32(at);
    const kind = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, Math.min(bytes.length, at + 8 + length));
    let compressed: Uint8Array | null = null;
    if (kind === 'zTXt') compressed = data.subarray(data.indexOf(0) + 2);
    if (kind === 'iTXt') {
      const key = data.indexOf(0);
      if (data[key + 1] === 1) {
        const lang = data.indexOf(0, key + 3);
        compressed = data.subarray(data.indexOf(0, lang + 1) + 1);
      }
    }
    if (compressed) {
      let size: number;
      try {
        size = inflateSync(compressed, { maxOutputLength: MAX_TEXT_CHUNK + 1 }).length;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') size = MAX_TEXT_CHUNK + 1;
        else size = 0; // a broken text chunk: Pillow skips it
      }
      if (size > MAX_TEXT_CHUNK) throw new InputError(`${name}: a ${kind} text chunk decompresses past 1 MiB, which Pillow refuses as a decompression bomb`);
      text += size;
      if (text > MAX_TEXT_MEMORY) throw new InputError(`${name}: its text chunks decompress past 64 MiB, which Pillow refuses`);
    }
    if (kind === 'IDAT' || kind === 'IEND') break; // Pillow reads the text it meets before the pixels at open
    at += 12 + length;
  }
  return out;
}

/** The orientation Pillow reads from a PNG's XMP when it has no EXIF orientation (its getexif regex). */
function xmpOrientation(meta: Metadata): number | undefined {
  if (meta.format !== 'png' || meta.orientation !== undefined || !meta.xmp) return undefined;
  const m = /tiff:Orientation(="|>)([0-9])/.exec(meta.xmp.toString('utf8'));
  return m ? Number(m[2]) : undefined;
}

const inflateTo: Inflate = (data, limit) => inflateSync(data, { maxOutputLength: Math.max(limit, 1), finishFlush: zlibConstants.Z_SYNC_FLUSH });

/** A LAB or 12-bit TIFF, which libvips does not open, read by tiff.ts and converted as Pillow converts it. */
async function decodePillowOnlyTiff(input: Uint8Array, name: string, maxPixels: number): Promise<RgbImage | null> {
  const tiff = readPillowOnlyTiff(input, name, maxPixels, inflateTo);
  if (!tiff) return null;
  const { width, height } = tiff;
  const data = tiff.mode === 'LAB' ? await labToRgb(tiff.samples, width * height) : toRgb(tiff.samples, width, height, 1, true); // "I;16" → RGB clamps at 255
  return orient({ width, height, data }, tiff.orientation);
}

async function decodeWithSharp(input: Uint8Array, name: string, maxPixels: number): Promise<RgbImage> {
  const tiff = await decodePillowOnlyTiff(input, name, maxPixels);
  if (tiff) return tiff;
  const bytes = asPillowReadsPng(input, name);
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
      // sharp's 8-bit output keeps the high byte of 16-bit colour, as Pillow's PNG decoder does; signed 8-bit
      // samples (a TIFF's SampleFormat 2) come out offset by 128, as Pillow's "L;8S" unpacking gives them.
      const { data, info } = await pipeline.raw(meta.depth === 'char' ? { depth: 'char' } : {}).toBuffer({ resolveWithObject: true });
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

/** An RGB image encoded as PNG. */
export async function encodePng(image: RgbImage): Promise<Uint8Array> {
  return new Uint8Array(await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.length), { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer());
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
