/**
 * Pillow's LAB → RGB: `Image.convert` sends it through LittleCMS, from `ImageCms.createProfile("LAB")` to the
 * built-in sRGB profile, perceptual intent, 8-bit Lab V2 in (L, a + 128, b + 128, one padding byte) and RGBA out.
 * lcms-wasm is LittleCMS compiled to WebAssembly; it is loaded on the first LAB image only.
 */
import type { Lcms } from 'lcms-wasm';
import { InputError } from '../errors.js';

// lcms2's pixel-format bit fields (lcms2.h): colour space, channels, extra channels, bytes per sample.
const PT_LABV2 = 30;
const PT_RGB = 4;
const format = (space: number, channels: number, extra: number) => (space << 16) | (channels << 3) | (extra << 7) | 1;
const INTENT_PERCEPTUAL = 0;
/** Pixels per call, so the WebAssembly heap holds a few MB at a time. */
const CHUNK = 1 << 20;

let transform: Promise<{ lcms: Lcms; handle: number }> | null = null;

function lcmsTransform(): Promise<{ lcms: Lcms; handle: number }> {
  transform ??= (async () => {
    const { instantiate } = await import('lcms-wasm');
    const lcms = await instantiate();
    const handle = lcms.cmsCreateTransform(lcms.cmsCreateLab4Profile(null), format(PT_LABV2, 3, 1), lcms.cmsCreate_sRGBProfile(), format(PT_RGB, 3, 1), INTENT_PERCEPTUAL, 0);
    if (!handle) throw new InputError('LittleCMS could not build the Lab → sRGB transform');
    return { lcms, handle };
  })();
  return transform;
}

/** RGB bytes from Pillow's LAB samples (L, a + 128, b + 128 per pixel), as Pillow's convert("RGB") gives them. */
export async function labToRgb(lab: Uint8Array, pixels: number): Promise<Uint8Array> {
  const { lcms, handle } = await lcmsTransform();
  const out = new Uint8Array(pixels * 3);
  for (let start = 0; start < pixels; start += CHUNK) {
    const n = Math.min(CHUNK, pixels - start);
    const padded = new Uint8Array(n * 4);
    for (let i = 0; i < n; i++) padded.set(lab.subarray((start + i) * 3, (start + i) * 3 + 3), i * 4);
    const rgba = lcms.cmsDoTransform(handle, padded, n);
    for (let i = 0; i < n; i++) out.set(rgba.subarray(i * 4, i * 4 + 3), (start + i) * 3);
  }
  return out;
}
