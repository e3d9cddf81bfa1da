/**
 * A BMP decoder (sharp's libvips has none): BITMAPINFOHEADER and later headers, 1/4/8-bit palettes,
 * 16/24/32-bit BI_RGB and BI_BITFIELDS, bottom-up or top-down rows. RLE compression is refused.
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

/** Decodes a BMP; `checkSize` sees its dimensions before any pixel memory is allocated. */
export function decodeBmp(bytes: Uint8Array, checkSize: (width: number, height: number) => void = () => {}): DecodedBmp {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 26) throw new Error('truncated BMP header');
  const dataOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  if (headerSize < 40) throw new Error(`BMP core headers (size ${headerSize}) are not supported`);
  if (bytes.length < 14 + headerSize) throw new Error('truncated BMP header');
  const width = view.getInt32(18, true);
  const rawHeight = view.getInt32(22, true);
  const bpp = view.getUint16(28, true);
  const compression = view.getUint32(30, true);
  let paletteSize = view.getUint32(46, true);
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height === 0) throw new Error(`BMP has size ${width}×${height}`);
  checkSize(width, height);
  if (compression !== 0 && compression !== 3 && compression !== 6) throw new Error(`BMP compression ${compression} (RLE/JPEG/PNG) is not supported`);
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) throw new Error(`BMP with ${bpp} bits per pixel is not supported`);

  // Channel masks for 16/32-bit images.
  let masks = bpp === 16 ? [0x7c00, 0x03e0, 0x001f] : [0x00ff0000, 0x0000ff00, 0x000000ff];
  if (compression === 3 || compression === 6) {
    const at = headerSize >= 52 ? 54 : 14 + headerSize; // masks follow a 40-byte header, or sit inside a V4/V5 one
    masks = [view.getUint32(at, true), view.getUint32(at + 4, true), view.getUint32(at + 8, true)];
  }
  const palette: number[][] = [];
  if (bpp <= 8) {
    if (paletteSize === 0) paletteSize = 1 << bpp;
    // every size read from the file is checked against the file before anything is allocated (Pillow: at most 65536)
    if (paletteSize > 65536) throw new Error(`BMP declares a palette of ${paletteSize} colours (at most 65536)`);
    const at = 14 + headerSize;
    if (at + paletteSize * 4 > bytes.length) throw new Error(`BMP declares a palette of ${paletteSize} colours, more than its ${bytes.length} bytes hold`);
    for (let i = 0; i < paletteSize; i++) palette.push([bytes[at + i * 4 + 2], bytes[at + i * 4 + 1], bytes[at + i * 4]]);
  }
  const stride = Math.floor((width * bpp + 31) / 32) * 4;
  if (dataOffset + stride * height > bytes.length) throw new Error('BMP pixel data is truncated');
  const out = new Uint8Array(width * height * 3);
  const channel = (value: number, mask: number) => {
    if (mask === 0) return 0;
    const shift = Math.log2(mask & -mask);
    const max = mask / 2 ** shift;
    const v = Math.floor((value & mask) / 2 ** shift);
    return max === 255 ? v : Math.round((v * 255) / max);
  };
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      let rgb: number[];
      if (bpp <= 8) {
        const bit = x * bpp;
        const index = (bytes[row + (bit >> 3)] >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        rgb = palette[index] ?? [0, 0, 0];
      } else if (bpp === 24) {
        const p = row + x * 3;
        rgb = [bytes[p + 2], bytes[p + 1], bytes[p]];
      } else if (bpp === 16 || bpp === 32) {
        const v = bpp === 16 ? view.getUint16(row + x * 2, true) : view.getUint32(row + x * 4, true);
        rgb = masks.map((m) => channel(v, m >>> 0));
      } else {
        throw new Error(`BMP with ${bpp} bits per pixel is not supported`); // refused above
      }
      out[o] = rgb[0];
      out[o + 1] = rgb[1];
      out[o + 2] = rgb[2];
    }
  }
  return { width, height, data: out };
}
