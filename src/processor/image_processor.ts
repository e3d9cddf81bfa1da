/**
 * CLIPImageProcessor, as transformers' PIL path runs it (CLIPImageProcessorPil in 5.x): resize the shortest
 * edge with Pillow's filter, centre-crop (zero-padding images smaller than the crop), rescale in float64 and
 * cast to float32, normalise in float32, and lay out channels first: pixel values [N, 3, H, W].
 *
 * `imageAspectRatio: 'pad'` first pads the image to a square of the mean colour, as the original ViP-LLaVA
 * code (LLaVA's `expand2square`, image_aspect_ratio "pad") did, so nothing drawn near an edge is cropped away.
 */
import type { ImageProcessorConfig } from '../config/preprocessor_config.js';
import { oneOf } from '../checks.js';
import { InputError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { DEFAULT_MAX_PIXELS, loadImage, type ImageInput, type LoadImageOptions, type RgbImage } from './image.js';
import { resizePil, type Window } from './resample.js';

export type ImageAspectRatio = 'crop' | 'pad';
export const IMAGE_ASPECT_RATIOS: readonly ImageAspectRatio[] = ['crop', 'pad'];

/** The aspect mode checked: 'crop' when absent; anything else is an error naming the choices. */
export const checkAspect = (aspect: unknown): ImageAspectRatio => oneOf(aspect ?? 'crop', IMAGE_ASPECT_RATIOS, 'imageAspectRatio');

/** Refuses an intermediate image (padded or resized) of more pixels than the limit, before it is made. */
function checkWork(what: string, width: number, height: number, maxPixels: number): void {
  if (width * height > maxPixels) {
    throw new InputError(`the image would be ${width}×${height} = ${width * height} pixels ${what}, more than the limit of ${maxPixels} (an extreme aspect ratio? raise maxPixels to allow it)`);
  }
}

export interface PreprocessOptions extends LoadImageOptions {
  /** 'crop' (default): the hub processor. 'pad': pad to a square first, as ViP-LLaVA was trained. */
  imageAspectRatio?: ImageAspectRatio;
}

/** Output size of a shortest-edge resize (transformers' get_resize_output_image_size, default_to_square=False). */
export function shortestEdgeSize(height: number, width: number, shortest: number): { height: number; width: number } {
  const short = Math.min(height, width);
  const long = Math.max(height, width);
  const newLong = Math.trunc((shortest * long) / short);
  return width <= height ? { height: newLong, width: shortest } : { height: shortest, width: newLong };
}

/** LLaVA's expand2square: the image centred on a square of `background`. */
export function padToSquare(image: RgbImage, background: readonly [number, number, number]): RgbImage {
  const { width: w, height: h } = image;
  if (w === h) return image;
  const side = Math.max(w, h);
  const out = new Uint8Array(side * side * 3);
  for (let i = 0; i < side * side; i++) out.set(background, i * 3);
  const [left, top] = w > h ? [0, Math.floor((w - h) / 2)] : [Math.floor((h - w) / 2), 0];
  for (let y = 0; y < h; y++) out.set(image.data.subarray(y * w * 3, (y + 1) * w * 3), ((y + top) * side + left) * 3);
  return { width: side, height: side, data: out };
}

/**
 * transformers' center_crop of cropH × cropW from an h × w image: floor offsets, an image smaller than the crop
 * zero-padded (ceil offsets). Gives the window of the image the crop keeps and where it lands in the crop.
 */
export function cropWindow(h: number, w: number, cropH: number, cropW: number): { win: Window; left: number; top: number } {
  const oy = Math.floor((h - cropH) / 2); // negative when the image is smaller: padding
  const ox = Math.floor((w - cropW) / 2);
  const win = { top: Math.max(0, oy), left: Math.max(0, ox), bottom: Math.min(h, oy + cropH), right: Math.min(w, ox + cropW) };
  return { win, left: win.left - ox, top: win.top - oy };
}

/** `part` on a zero canvas of width × height at (left, top); `part` itself when it fills the canvas. */
function placeAt(part: RgbImage, width: number, height: number, left: number, top: number): RgbImage {
  if (part.width === width && part.height === height) return part;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < part.height; y++) out.set(part.data.subarray(y * part.width * 3, (y + 1) * part.width * 3), ((y + top) * width + left) * 3);
  return { width, height, data: out };
}

export class CLIPImageProcessor {
  constructor(
    readonly config: ImageProcessorConfig,
    /** What `imageAspectRatio` means when a call leaves it out: the checkpoint's choice ('pad' for the original LLaVA format). */
    readonly defaultAspectRatio: ImageAspectRatio = 'crop',
  ) {}

  /** The mean colour as LLaVA computed its padding background: int(mean · 255) per channel. */
  get padColor(): [number, number, number] {
    const [r, g, b] = this.config.image_mean.map((m) => Math.trunc(m * 255));
    return [r, g, b];
  }

  /**
   * Resize and crop: the 8-bit image the float conversion starts from. With both, only the part of the resize
   * the crop keeps is computed (each pixel as the whole resize gives it), so a very long image costs no more
   * than the crop; intermediate images beyond `maxPixels` are refused before they are made.
   */
  resizeAndCrop(image: RgbImage, aspect: ImageAspectRatio = 'crop', maxPixels = DEFAULT_MAX_PIXELS): RgbImage {
    const c = this.config;
    if (checkAspect(aspect) === 'pad') checkWork('padded to a square', Math.max(image.width, image.height), Math.max(image.width, image.height), maxPixels);
    const img = aspect === 'pad' ? padToSquare(image, this.padColor) : image;
    const target = !c.do_resize ? img : 'shortest_edge' in c.size ? shortestEdgeSize(img.height, img.width, c.size.shortest_edge) : c.size;
    if (c.do_center_crop) {
      const { height: ch, width: cw } = c.crop_size;
      const { win, left, top } = cropWindow(target.height, target.width, ch, cw);
      return placeAt(resizePil(img, target.width, target.height, c.resample, win), cw, ch, left, top); // no resize: the window itself
    }
    if (!c.do_resize) return img;
    checkWork('after resizing', target.width, target.height, maxPixels);
    return resizePil(img, target.width, target.height, c.resample);
  }

  /** 8-bit RGB → float32 channels-first [3, H, W], rescaled and normalised as transformers does. */
  toPixelValues(image: RgbImage): Float32Array {
    const c = this.config;
    const n = image.width * image.height;
    const out = new Float32Array(3 * n);
    const f = Math.fround;
    for (let ch = 0; ch < 3; ch++) {
      // Every pixel takes one of 256 values: compute each once.
      const lut = new Float32Array(256);
      const mean = f(c.image_mean[ch]);
      const std = f(c.image_std[ch]);
      for (let v = 0; v < 256; v++) {
        let x = c.do_rescale ? f(v * c.rescale_factor) : v; // float64 multiply, then float32
        if (c.do_normalize) x = f(f(x - mean) / std);
        lut[v] = x;
      }
      for (let i = 0; i < n; i++) out[ch * n + i] = lut[image.data[i * 3 + ch]];
    }
    return out;
  }

  /** Loads and preprocesses images into pixel values [N, 3, H, W]. */
  async preprocess(images: ImageInput | ImageInput[], options: PreprocessOptions = {}): Promise<{ pixelValues: Tensor<'float32'> }> {
    const list = Array.isArray(images) ? images : [images];
    if (list.length === 0) throw new InputError('preprocess needs at least one image');
    const aspect = checkAspect(options.imageAspectRatio ?? this.defaultAspectRatio);
    const processed = await Promise.all(
      list.map(async (input) => this.resizeAndCrop(await loadImage(input, options), aspect, options.maxPixels)),
    );
    const { width, height } = processed[0];
    if (processed.some((p) => p.width !== width || p.height !== height)) {
      throw new InputError('images differ in size after preprocessing (enable do_center_crop or use size height/width)');
    }
    const per = 3 * width * height;
    const data = new Float32Array(list.length * per);
    processed.forEach((p, i) => data.set(this.toPixelValues(p), i * per));
    return { pixelValues: new Tensor('float32', data, [list.length, 3, height, width]) };
  }
}
