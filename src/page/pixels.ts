/** Between the library's RGB images and the canvas's RGBA pixels. */
import type { RgbImage } from '../index.js';

export function toImageData(image: RgbImage): ImageData {
  const out = new ImageData(image.width, image.height);
  for (let i = 0, j = 0; j < image.data.length; i += 4, j += 3) {
    out.data.set(image.data.subarray(j, j + 3), i);
    out.data[i + 3] = 255;
  }
  return out;
}

export function fromImageData(pixels: ImageData): RgbImage {
  const rgb = new Uint8Array(pixels.width * pixels.height * 3);
  for (let i = 0, j = 0; i < pixels.data.length; i += 4, j += 3) rgb.set(pixels.data.subarray(i, i + 3), j);
  return { width: pixels.width, height: pixels.height, data: rgb };
}

/** A lossless PNG of the image, as a data URL. */
export function pngDataUrl(image: RgbImage): string {
  const c = document.createElement('canvas');
  [c.width, c.height] = [image.width, image.height];
  c.getContext('2d')!.putImageData(toImageData(image), 0, 0);
  return c.toDataURL('image/png');
}
