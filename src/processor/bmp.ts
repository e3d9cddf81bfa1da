/**
 * A BMP decoder (sharp's libvips has none) that decodes what Pillow's BmpImagePlugin decodes, to the same
 * bytes: OS/2 (12-byte) and Windows (40-byte and later) headers; 1/4/8-bit palettes, uncompressed or RLE8/RLE4;
 * 16/24/32-bit BI_RGB and the BI_BITFIELDS layouts Pillow supports, 5- and 6-bit channels expanded with
 * Pillow's truncating `v * 255 / max`; bottom-up or top-down rows. Every size read from the file is checked
 * against the file's length before anything is allocated.
 */
export interface DecodedBmp {
  width: number;
  height: number;
  /** RGB, 3 bytes per pixel; alpha, if any, is dropped as PIL's convert("RGB") drops it. */
  data: Uint8Array;
}

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d; // "BM"
}

/** The BI_BITFIELDS masks Pillow decodes, by bits per pixel (r, g, b; alpha is dropped). */
const BITFIELDS: Record<number, ReadonlyArray<readonly [number, number, number]>> = {
  32: [[0xff0000, 0xff00, 0xff], [0xff000000, 0xff0000, 0xff00], [0xff000000, 0xff00, 0xff], [0xff, 0xff00, 0xff0000], [0, 0, 0]],
  24: [[0xff0000, 0xff00, 0xff]],
  16: [[0xf800, 0x7e0, 0x1f], [0x7c00, 0x3e0, 0x1f]],
};

/** Pillow's channel unpacking: the masked bits scaled to 8 with integer division (8-bit channels as they are). */
function channel(value: number, mask: number): number {
  if (mask === 0) return 0;
  const shift = Math.log2(mask & -mask);
  const max = mask / 2 ** shift;
  const v = Math.floor((value & mask) / 2 ** shift) >>> 0;
  return max === 255 ? v : Math.floor((v * 255) / max);
}

/** RLE8/RLE4 pixel data as Pillow's BmpRleDecoder expands it: palette indices, rows bottom-up. */
function expandRle(bytes: Uint8Array, start: number, width: number, height: number, rle4: boolean): Uint8Array {
  const total = width * height;
  const out = new Uint8Array(total);
  let n = 0;
  let x = 0;
  let at = start;
  while (n < total && at + 1 < bytes.length) {
    const count = bytes[at];
    const byte = bytes[at + 1];
    at += 2;
    if (count > 0) {
      const run = Math.min(count, Math.max(0, width - x), total - n); // too much data for the row is cut
      for (let i = 0; i < run; i++) out[n++] = rle4 ? (i % 2 === 0 ? byte >> 4 : byte & 15) : byte;
      x += run;
    } else if (byte === 0) {
      n = Math.min(total, Math.ceil(n / width) * width); // end of line: the rest of the row is 0
      x = 0;
    } else if (byte === 1) {
      break; // end of bitmap
    } else if (byte === 2) {
      if (at + 1 >= bytes.length) break;
      n = Math.min(total, n + bytes[at] + bytes[at + 1] * width); // delta: skipped pixels are 0
      x = n % width;
      at += 2;
    } else {
      const read = rle4 ? byte >> 1 : byte; // absolute mode (RLE4: two pixels a byte, as Pillow counts them)
      if (at + read > bytes.length) break;
      for (let i = 0; i < read && n < total; i++) {
        if (rle4) {
          out[n++] = bytes[at + i] >> 4;
          if (n < total) out[n++] = bytes[at + i] & 15;
        } else out[n++] = bytes[at + i];
      }
      at += read;
      x += byte;
      if (at % 2 !== 0) at++; // runs end on a 16-bit boundary of the file
    }
  }
  return out;
}

/** Decodes a BMP; `checkSize` sees its dimensions before any pixel memory is allocated. */
export function decodeBmp(bytes: Uint8Array, checkSize: (width: number, height: number) => void = () => {}): DecodedBmp {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 26) throw new Error('truncated BMP header');
  const dataOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  const core = headerSize === 12; // OS/2 1.x: 16-bit sizes, 3-byte palette entries
  if (!core && headerSize < 40) throw new Error(`BMP header size ${headerSize} is not supported`);
  if (bytes.length < 14 + headerSize) throw new Error('truncated BMP header');
  const width = core ? view.getUint16(18, true) : view.getInt32(18, true);
  const rawHeight = core ? view.getUint16(20, true) : view.getInt32(22, true);
  const bpp = view.getUint16(core ? 24 : 28, true);
  const compression = core ? 0 : view.getUint32(30, true);
  let paletteSize = core ? 0 : view.getUint32(46, true);
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height === 0) throw new Error(`BMP has size ${width}×${height}`);
  const rle = compression === 1 || compression === 2;
  if (compression !== 0 && compression !== 3 && !rle) throw new Error(`BMP compression ${compression} (JPEG/PNG) is not supported`);
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) throw new Error(`BMP with ${bpp} bits per pixel is not supported`);
  if (rle && bpp !== (compression === 1 ? 8 : 4)) throw new Error(`BMP RLE${compression === 1 ? 8 : 4} with ${bpp} bits per pixel is not supported`);
  checkSize(width, height);

  // Channel masks for 16/24/32-bit images.
  let masks: readonly number[] = bpp === 16 ? [0x7c00, 0x03e0, 0x001f] : [0x00ff0000, 0x0000ff00, 0x000000ff];
  if (compression === 3) {
    const at = headerSize >= 52 ? 54 : 14 + headerSize; // masks follow a 40-byte header, or sit inside a V4/V5 one
    if (at + 12 > bytes.length) throw new Error('truncated BMP bitfields');
    masks = [view.getUint32(at, true), view.getUint32(at + 4, true), view.getUint32(at + 8, true)];
    if (!(BITFIELDS[bpp] ?? []).some((m) => m.every((v, i) => v === masks[i]))) throw new Error('BMP bitfields layout is not supported');
  }
  const palette: number[][] = [];
  if (bpp <= 8) {
    if (paletteSize === 0 || core) paletteSize = 1 << bpp;
    // every size read from the file is checked against the file before anything is allocated (Pillow: at most 65536)
    if (paletteSize > 65536) throw new Error(`BMP declares a palette of ${paletteSize} colours (at most 65536)`);
    const entry = core ? 3 : 4;
    const at = 14 + headerSize + (compression === 3 ? 12 : 0);
    if (at + paletteSize * entry > bytes.length) throw new Error(`BMP declares a palette of ${paletteSize} colours, more than its ${bytes.length} bytes hold`);
    for (let i = 0; i < paletteSize; i++) palette.push([bytes[at + i * entry + 2], bytes[at + i * entry + 1], bytes[at + i * entry]]);
  }
  const out = new Uint8Array(width * height * 3);
  const put = (y: number, x: number, r: number, g: number, b: number) => {
    const o = (y * width + x) * 3;
    out[o] = r;
    out[o + 1] = g;
    out[o + 2] = b;
  };
  const colour = (index: number) => palette[index] ?? [0, 0, 0];
  if (rle) {
    if (dataOffset >= bytes.length) throw new Error('BMP pixel data is truncated');
    const indices = expandRle(bytes, dataOffset, width, height, compression === 2); // bottom-up rows
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const [r, g, b] = colour(indices[(height - 1 - y) * width + x]);
        put(y, x, r, g, b);
      }
    }
    return { width, height, data: out };
  }
  const stride = Math.floor((width * bpp + 31) / 32) * 4;
  if (dataOffset + stride * height > bytes.length) throw new Error('BMP pixel data is truncated');
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      if (bpp <= 8) {
        const bit = x * bpp;
        const [r, g, b] = colour((bytes[row + (bit >> 3)] >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1));
        put(y, x, r, g, b);
      } else if (bpp === 24) {
        const p = row + x * 3;
        put(y, x, bytes[p + 2], bytes[p + 1], bytes[p]);
      } else {
        const v = bpp === 16 ? view.getUint16(row + x * 2, true) : view.getUint32(row + x * 4, true);
        put(y, x, channel(v, masks[0] >>> 0), channel(v, masks[1] >>> 0), channel(v, masks[2] >>> 0));
      }
    }
  }
  return { width, height, data: out };
}
