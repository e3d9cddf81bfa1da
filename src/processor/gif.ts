/**
 * The colour a GIF's first frame gives its transparent index: Pillow opens the frame as a palette image and
 * convert("RGB") looks every index up, the transparent one included, where a decoder with alpha makes it black.
 */

/** [r, g, b] of the first frame's transparent index (its local palette, else the global one), or null. */
export function gifTransparentColour(bytes: Uint8Array): [number, number, number] | null {
  if (bytes.length < 13 || String.fromCharCode(...bytes.subarray(0, 3)) !== 'GIF') return null;
  const flags = bytes[10];
  let at = 13;
  let palette: Uint8Array | null = null;
  if (flags & 0x80) {
    const size = 3 << ((flags & 7) + 1);
    palette = bytes.subarray(at, at + size);
    at += size;
  }
  let transparent: number | null = null;
  while (at < bytes.length) {
    const block = bytes[at];
    if (block === 0x21) {
      // an extension: a graphic control extension (0xf9) says which index is transparent
      if (bytes[at + 1] === 0xf9 && at + 6 < bytes.length && bytes[at + 3] & 1) transparent = bytes[at + 6];
      at += 2;
      while (at < bytes.length && bytes[at] !== 0) at += bytes[at] + 1; // sub-blocks
      at++;
    } else if (block === 0x2c) {
      const local = bytes[at + 9];
      if (local & 0x80) palette = bytes.subarray(at + 10, at + 10 + (3 << ((local & 7) + 1)));
      break;
    } else {
      return null;
    }
  }
  if (transparent === null || !palette || transparent * 3 + 2 >= palette.length) return null;
  return [palette[transparent * 3], palette[transparent * 3 + 1], palette[transparent * 3 + 2]];
}
