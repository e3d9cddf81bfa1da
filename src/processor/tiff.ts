/**
 * The TIFFs Pillow opens and libvips does not: CIE L*a*b* (8 bits per band, Pillow's "LAB") and 12-bit
 * greyscale (little-endian, Pillow's "I;12" read into "I;16"). Only their first image is read, in strips, raw or
 * compressed with PackBits, LZW or Deflate. Every other TIFF is left to the regular decoder; variants of these two
 * that Pillow has no mode for are refused, as Pillow refuses them.
 */
import { InputError } from '../errors.js';
import { checkSize } from './image.js';

/** Decompresses zlib data to at most `limit` bytes (Node's zlib; the browser's streams would be async). */
export type Inflate = (data: Uint8Array, limit: number) => Uint8Array;

/** Samples as Pillow holds them: LAB as L, a + 128, b + 128 per pixel; 12-bit grey as 0..4095. */
export type PillowTiff =
  | { mode: 'LAB'; width: number; height: number; samples: Uint8Array; orientation: number }
  | { mode: 'I;16'; width: number; height: number; samples: Uint16Array; orientation: number };

const TAG = {
  width: 256,
  height: 257,
  bits: 258,
  compression: 259,
  photometric: 262,
  fillOrder: 266,
  stripOffsets: 273,
  orientation: 274,
  samplesPerPixel: 277,
  rowsPerStrip: 278,
  stripByteCounts: 279,
  planar: 284,
  predictor: 317,
  tileWidth: 322,
  extraSamples: 338,
  sampleFormat: 339,
};
const PHOTOMETRIC_GREY = 1;
const PHOTOMETRIC_LAB = 8;
const TYPE_SIZES: Record<number, number> = { 1: 1, 3: 2, 4: 4, 16: 8 };

/** The first image of a TIFF Pillow reads but libvips does not, decoded as Pillow holds it; null for any other file. */
export function readPillowOnlyTiff(bytes: Uint8Array, name: string, maxPixels: number, inflate: Inflate): PillowTiff | null {
  const order = String.fromCharCode(bytes[0] ?? 0, bytes[1] ?? 0);
  if (bytes.length < 8 || (order !== 'II' && order !== 'MM')) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const little = order === 'II';
  if (view.getUint16(2, little) !== 42) return null; // BigTIFF and others: not ours
  const tags = readIfd(view, view.getUint32(4, little), little, name);
  if (!tags) return null;
  const one = (tag: number, fallback: number) => tags.get(tag)?.[0] ?? fallback;
  const photometric = one(TAG.photometric, -1);
  const bits = tags.get(TAG.bits) ?? [1];
  const isLab = photometric === PHOTOMETRIC_LAB;
  const is12 = bits.includes(12);
  if (!isLab && !is12) return null;

  const samplesPerPixel = one(TAG.samplesPerPixel, 1);
  const what = isLab ? 'CIE L*a*b* TIFF' : '12-bit TIFF';
  // Pillow's TiffImagePlugin.OPEN_INFO has exactly these two layouts for them.
  const pillowHasMode = isLab
    ? bits.length === 3 && bits.every((b) => b === 8) && samplesPerPixel === 3
    : little && photometric === PHOTOMETRIC_GREY && bits.length === 1 && samplesPerPixel === 1;
  if (!pillowHasMode || one(TAG.sampleFormat, 1) !== 1 || one(TAG.fillOrder, 1) !== 1 || tags.has(TAG.extraSamples)) {
    throw new InputError(`${name}: a ${what} with ${bits.join(',')} bits, ${samplesPerPixel} samples and photometric ${photometric} has no Pillow mode (Pillow refuses it too)`);
  }
  if (tags.has(TAG.tileWidth)) throw new InputError(`${name}: a tiled ${what} is not supported`);
  if (one(TAG.planar, 1) !== 1) throw new InputError(`${name}: a ${what} with separate colour planes is not supported`);
  const predictor = one(TAG.predictor, 1);
  if (predictor !== 1 && !(predictor === 2 && isLab)) throw new InputError(`${name}: a ${what} with predictor ${predictor} is not supported`);

  const width = one(TAG.width, 0);
  const height = one(TAG.height, 0);
  checkSize(name, width, height, maxPixels);
  const rowBytes = isLab ? width * 3 : Math.ceil((width * 12) / 8);
  const rowsPerStrip = Math.min(one(TAG.rowsPerStrip, height), height);
  const offsets = tags.get(TAG.stripOffsets) ?? [];
  const counts = tags.get(TAG.stripByteCounts) ?? [];
  const strips = Math.ceil(height / Math.max(rowsPerStrip, 1));
  if (rowsPerStrip < 1 || offsets.length < strips || counts.length < strips) throw new InputError(`${name}: the ${what} lists ${offsets.length} strips where ${strips} are needed`);

  const raw = new Uint8Array(rowBytes * height);
  const compression = one(TAG.compression, 1);
  for (let s = 0; s < strips; s++) {
    const want = Math.min(rowsPerStrip, height - s * rowsPerStrip) * rowBytes;
    // Pillow reads a raw strip on past a byte count that is too small; compressed ones end at their count.
    const [start, end] = [offsets[s], compression === 1 ? offsets[s] + want : offsets[s] + counts[s]];
    if (end > bytes.length) throw new InputError(`${name}: strip ${s + 1} of the ${what} runs past the end of the file (truncated?)`);
    const got = decompress(bytes.subarray(start, end), compression, want, inflate, name, what);
    if (got.length < want) throw new InputError(`${name}: strip ${s + 1} of the ${what} holds ${got.length} of its ${want} bytes (truncated?)`);
    raw.set(got.subarray(0, want), s * rowsPerStrip * rowBytes);
  }
  const orientation = one(TAG.orientation, 1);
  if (isLab) {
    if (predictor === 2) undoHorizontalDifferencing(raw, width, height, 3);
    // TIFF stores a* and b* as signed bytes; Pillow's "LAB" unpacker flips their top bit.
    for (let i = 0; i < raw.length; i += 3) {
      raw[i + 1] ^= 0x80;
      raw[i + 2] ^= 0x80;
    }
    return { mode: 'LAB', width, height, samples: raw, orientation };
  }
  return { mode: 'I;16', width, height, samples: unpack12(raw, width, height, rowBytes), orientation };
}

/** The first IFD's numeric tags (each a list of values), or null when it does not fit in the file. */
function readIfd(view: DataView, at: number, little: boolean, name: string): Map<number, number[]> | null {
  if (at + 2 > view.byteLength) return null;
  const count = view.getUint16(at, little);
  if (at + 2 + count * 12 > view.byteLength) throw new InputError(`${name}: its TIFF directory runs past the end of the file`);
  const tags = new Map<number, number[]>();
  for (let i = 0; i < count; i++) {
    const entry = at + 2 + i * 12;
    const [tag, type, n] = [view.getUint16(entry, little), view.getUint16(entry + 2, little), view.getUint32(entry + 4, little)];
    const size = TYPE_SIZES[type];
    if (!size || type === 16) continue; // rationals, strings and the like: no tag read here needs them
    const inline = size * n <= 4;
    const where = inline ? entry + 8 : view.getUint32(entry + 8, little);
    if (where + size * n > view.byteLength) throw new InputError(`${name}: TIFF tag ${tag} points past the end of the file`);
    const values = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      const p = where + k * size;
      values[k] = size === 1 ? view.getUint8(p) : size === 2 ? view.getUint16(p, little) : view.getUint32(p, little);
    }
    tags.set(tag, values);
  }
  return tags;
}

function decompress(data: Uint8Array, compression: number, want: number, inflate: Inflate, name: string, what: string): Uint8Array {
  switch (compression) {
    case 1:
      return data;
    case 32773:
      return unpackBits(data, want);
    case 5:
      return lzw(data, want, name);
    case 8:
    case 32946:
      try {
        return inflate(data, want);
      } catch {
        throw new InputError(`${name}: the ${what}'s Deflate data is corrupt`);
      }
    default:
      throw new InputError(`${name}: a ${what} with compression ${compression} is not supported (raw, PackBits, LZW and Deflate are)`);
  }
}

/** PackBits (TIFF compression 32773): a count byte n, then n + 1 literal bytes (n < 128) or one byte 257 − n times. */
function unpackBits(data: Uint8Array, want: number): Uint8Array {
  const out = new Uint8Array(want);
  let o = 0;
  for (let i = 0; i < data.length && o < want; ) {
    const n = data[i++];
    if (n < 128) {
      const run = Math.min(n + 1, want - o, data.length - i);
      out.set(data.subarray(i, i + run), o);
      [i, o] = [i + n + 1, o + run];
    } else if (n > 128) {
      const run = Math.min(257 - n, want - o);
      out.fill(data[i++] ?? 0, o, o + run);
      o += run;
    } else i++; // 128: no operation
  }
  return out.subarray(0, o);
}

/** TIFF's LZW: codes MSB first, 9 to 12 bits wide, widened one code early; 256 clears, 257 ends. */
function lzw(data: Uint8Array, want: number, name: string): Uint8Array {
  if (data.length >= 2 && data[0] === 0 && (data[1] & 1) === 1) throw new InputError(`${name}: old-style (LSB-first) TIFF LZW is not supported`);
  const out = new Uint8Array(want);
  const prefix = new Int32Array(4096);
  const suffix = new Uint8Array(4096);
  const length = new Uint16Array(4096);
  for (let c = 0; c < 256; c++) [suffix[c], length[c]] = [c, 1];
  let [next, width, previous, o, bit] = [258, 9, -1, 0, 0];
  const emit = (code: number) => {
    const n = length[code];
    for (let k = n - 1, c = code; k >= 0; k--, c = prefix[c]) if (o + k < want) out[o + k] = suffix[c];
    o += n;
  };
  const firstByte = (code: number) => {
    while (length[code] > 1) code = prefix[code];
    return suffix[code];
  };
  while (o < want && bit + width <= data.length * 8) {
    let code = 0;
    for (let k = 0; k < width; k++, bit++) code = (code << 1) | ((data[bit >> 3] >> (7 - (bit & 7))) & 1);
    if (code === 257) break;
    if (code === 256) {
      [next, width, previous] = [258, 9, -1];
      continue;
    }
    if (previous < 0) {
      if (code > 255) throw new InputError(`${name}: corrupt TIFF LZW data`);
      emit(code);
    } else {
      if (code > next) throw new InputError(`${name}: corrupt TIFF LZW data`);
      const first = code < next ? firstByte(code) : firstByte(previous);
      if (next < 4096) {
        [prefix[next], suffix[next], length[next]] = [previous, first, length[previous] + 1];
        next++;
      }
      emit(code);
    }
    previous = code;
    if (next + 1 >= 1 << width && width < 12) width++;
  }
  return out.subarray(0, Math.min(o, want));
}

/** Predictor 2: each sample was stored as its difference from the one to its left, in the same band. */
function undoHorizontalDifferencing(raw: Uint8Array, width: number, height: number, bands: number): void {
  for (let y = 0; y < height; y++) {
    const row = y * width * bands;
    for (let i = bands; i < width * bands; i++) raw[row + i] = (raw[row + i] + raw[row + i - bands]) & 0xff;
  }
}

/** Pillow's unpackI12_I16: two pixels in three bytes, most significant bits first; each row starts on a byte. */
function unpack12(raw: Uint8Array, width: number, height: number, rowBytes: number): Uint16Array {
  const out = new Uint16Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = raw.subarray(y * rowBytes);
    for (let x = 0, i = 0; x < width; x += 2, i += 3) {
      out[y * width + x] = (row[i] << 4) | (row[i + 1] >> 4);
      if (x + 1 < width) out[y * width + x + 1] = ((row[i + 1] & 0x0f) << 8) | row[i + 2];
    }
  }
  return out;
}
