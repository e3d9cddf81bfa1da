/**
 * Drawing visual prompts on an image as ViP-LLaVA's data pipeline did: every prompt on its own transparent
 * RGBA layer, alpha-composited onto the full-resolution image in turn (Pillow's Image.alpha_composite).
 */
import { InputError } from '../errors.js';
import { Rng } from '../rng.js';
import type { RgbImage } from '../processor/image.js';
import { PALETTE, parseColor, promptPhrase, SHAPES, type ColorName, type Rgb, type ShapeName } from './palette.js';
import { Layer } from './raster.js';
import { plan, render, type Box, type FlatPolygon, type Plan, type Pt } from './shapes.js';

export interface VisualPrompt {
  shape: ShapeName;
  /** Where: a box [x1, y1, x2, y2], polygons (a mask, flat x, y lists) or a point [x, y]. */
  box?: Box;
  polygons?: FlatPolygon[];
  point?: Pt;
  /** Palette name, "#rrggbb", "r,g,b" or [r, g, b]. Default: a distinct palette colour chosen by the seed. */
  color?: string | Rgb;
  /** 0–255. Default: random 96–255 (masks 48–128) like training data; 128 in the 'eval' style. */
  alpha?: number;
  /** Stroke width in 336-px units (the original's `width`); default random per shape. */
  width?: number;
}

export interface DrawOptions {
  /** Seeds every random choice; the same seed draws the same pixels. Default 0. */
  seed?: number;
  /** 'random' (default): training-data variety. 'eval': the evaluation scripts' alpha 128 and constant widths. */
  style?: 'random' | 'eval';
}

export interface DrawnPrompt {
  shape: ShapeName;
  color: Rgb;
  /** The palette name, or null for other colours (then the phrase has no colour word). */
  colorName: ColorName | null;
  alpha: number;
  /** Every random choice made, enough to draw the prompt again. */
  plan: Plan;
  /** How the training text referred to it: "within the red rectangle". */
  phrase: string;
  /** Bounds of the pixels drawn, [x1, y1, x2, y2] inclusive, or null if nothing landed on the image. */
  drawnBounds: Box | null;
}

/** Pillow's alpha_composite of a layer over an opaque image (its vectorised path: rounded division by 255). */
export function compositeOver(image: RgbImage, layer: Layer): RgbImage {
  const out = new Uint8Array(image.data);
  const n = image.width * image.height;
  for (let i = 0; i < n; i++) {
    const a = layer.data[i * 4 + 3];
    if (a === 0) continue;
    for (let c = 0; c < 3; c++) {
      const v = layer.data[i * 4 + c] * a + image.data[i * 3 + c] * (255 - a) + 128;
      out[i * 3 + c] = (v + (v >> 8)) >> 8;
    }
  }
  return { width: image.width, height: image.height, data: out };
}

function checkPrompt(p: VisualPrompt, i: number, image: RgbImage): void {
  const where = `visual prompt ${i + 1} (${p.shape})`;
  if (!SHAPES.includes(p.shape)) throw new InputError(`visual prompt ${i + 1}: unknown shape "${p.shape}" (shapes: ${SHAPES.join(', ')})`);
  const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const regions = [p.box, p.polygons, p.point].filter((r) => r !== undefined).length;
  if (regions === 0) throw new InputError(`${where} needs a box, polygons or a point`);
  if (p.box !== undefined) {
    if (!Array.isArray(p.box) || p.box.length !== 4 || !p.box.every(finite)) throw new InputError(`${where}: box must be [x1, y1, x2, y2], got ${JSON.stringify(p.box)}`);
    const [x0, y0, x1, y1] = p.box;
    if (x1 < x0 || y1 < y0) throw new InputError(`${where}: box [${p.box.join(', ')}] has x2 < x1 or y2 < y1`);
    if (x1 === x0 || y1 === y0) throw new InputError(`${where}: box [${p.box.join(', ')}] has no area (x2 = x1 or y2 = y1)`);
    if (x1 < 0 || y1 < 0 || x0 >= image.width || y0 >= image.height) {
      throw new InputError(`${where}: box [${p.box.join(', ')}] lies outside the ${image.width}×${image.height} image`);
    }
  }
  if (p.polygons !== undefined) {
    if (!Array.isArray(p.polygons) || p.polygons.length === 0) throw new InputError(`${where}: polygons is empty`);
    p.polygons.forEach((poly, k) => {
      if (!Array.isArray(poly) || !poly.every(finite) || poly.length % 2 !== 0) throw new InputError(`${where}: polygon ${k + 1} must be a flat list of x, y numbers`);
      if (poly.length < 6) throw new InputError(`${where}: polygon ${k + 1} has ${poly.length / 2} points; a polygon needs at least 3`);
    });
  }
  if (p.point !== undefined) {
    if (!Array.isArray(p.point) || p.point.length !== 2 || !p.point.every(finite)) throw new InputError(`${where}: point must be [x, y], got ${JSON.stringify(p.point)}`);
    const [x, y] = p.point;
    if (x < 0 || y < 0 || x >= image.width || y >= image.height) throw new InputError(`${where}: point [${x}, ${y}] lies outside the ${image.width}×${image.height} image`);
    if (p.shape !== 'point' && p.shape !== 'arrow' && p.box === undefined && p.polygons === undefined) {
      throw new InputError(`${where} needs a box or polygons (a point is enough only for points and arrows)`);
    }
  }
  if (p.alpha !== undefined && !(Number.isInteger(p.alpha) && p.alpha >= 0 && p.alpha <= 255)) throw new InputError(`${where}: alpha must be an integer 0-255, got ${p.alpha}`);
  if (p.width !== undefined && !(finite(p.width) && p.width > 0)) throw new InputError(`${where}: width must be a positive number, got ${p.width}`);
}

/** Throws unless `image` is decoded 8-bit RGB (what loadImage returns). */
function checkImage(image: unknown, fn: string): asserts image is RgbImage {
  const i = image as RgbImage;
  const ok = typeof i === 'object' && i !== null && Number.isInteger(i.width) && Number.isInteger(i.height) && i.width > 0 && i.height > 0 && i.data instanceof Uint8Array && i.data.length === i.width * i.height * 3;
  if (!ok) throw new InputError(`${fn} needs a decoded RGB image { width, height, data } (load a file or bytes with loadImage first), got ${typeof image === 'string' ? `the string "${image}"` : typeof image}`);
}

/** Draws the prompts in order and says how the training text referred to each. */
export function drawVisualPrompts(image: RgbImage, prompts: VisualPrompt[], options: DrawOptions = {}): { image: RgbImage; prompts: DrawnPrompt[] } {
  checkImage(image, 'drawVisualPrompts');
  if (!Array.isArray(prompts) || prompts.length === 0) throw new InputError('drawVisualPrompts needs at least one visual prompt');
  prompts.forEach((p, i) => checkPrompt(p, i, image));
  const style = options.style ?? 'random';
  const rng = new Rng(options.seed ?? 0);
  // Default colours: distinct palette colours in a seeded order, after those asked for.
  const taken = new Set(prompts.filter((p) => p.color !== undefined).map((p) => parseColor(p.color!).name));
  const free = (Object.keys(PALETTE) as ColorName[]).filter((c) => !taken.has(c));
  for (let i = free.length - 1; i > 0; i--) {
    const j = Math.floor(rng.nextFloat() * (i + 1));
    [free[i], free[j]] = [free[j], free[i]];
  }
  const maxSide = Math.max(image.width, image.height);
  const drawn: DrawnPrompt[] = [];
  let current = image;
  prompts.forEach((p, i) => {
    const { rgb, name } = p.color !== undefined ? parseColor(p.color) : parseColor(free[i % free.length] ?? 'red');
    const alpha = p.alpha ?? (style === 'eval' ? 128 : p.shape === 'mask' ? 48 + Math.floor(rng.nextFloat() * 81) : 96 + Math.floor(rng.nextFloat() * 160));
    const thePlan = plan(p.shape, p, maxSide, rng, { style, width: p.width });
    const layer = new Layer(image.width, image.height);
    render(layer, thePlan, [rgb[0], rgb[1], rgb[2], alpha]);
    current = compositeOver(current, layer);
    drawn.push({ shape: p.shape, color: rgb, colorName: name, alpha, plan: thePlan, phrase: promptPhrase(p.shape, name), drawnBounds: layerBounds(layer) });
  });
  return { image: current, prompts: drawn };
}

/** Draws one prompt again from its plan (a DrawnPrompt's, or one saved with a dataset) in the colour `ink`. */
export function drawPlan(image: RgbImage, thePlan: Plan, ink: readonly [number, number, number, number]): RgbImage {
  checkImage(image, 'drawPlan');
  const layer = new Layer(image.width, image.height);
  render(layer, thePlan, [ink[0], ink[1], ink[2], ink[3]]);
  return compositeOver(image, layer);
}

function layerBounds(layer: Layer): Box | null {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < layer.height; y++) {
    for (let x = 0; x < layer.width; x++) {
      if (layer.data[(y * layer.width + x) * 4 + 3] === 0) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  return x1 < 0 ? null : [x0, y0, x1, y1];
}

/**
 * The part of each prompt that a centre crop (the hub processor's default) would cut away: the crop keeps
 * the middle square of side min(W, H). Returns one message per prompt that loses drawn pixels.
 */
export function cropWarnings(image: { width: number; height: number }, drawn: DrawnPrompt[]): string[] {
  const side = Math.min(image.width, image.height);
  const left = Math.floor((image.width - side) / 2);
  const top = Math.floor((image.height - side) / 2);
  const out: string[] = [];
  drawn.forEach((d, i) => {
    const b = d.drawnBounds;
    if (!b) return;
    if (b[0] < left || b[1] < top || b[2] >= left + side || b[3] >= top + side) {
      out.push(`visual prompt ${i + 1} (${d.phrase}) reaches outside the centre crop [${left}, ${top}, ${left + side - 1}, ${top + side - 1}]; use imageAspectRatio 'pad' to keep it`);
    }
  });
  return out;
}

/** {prompt}, {prompt1}, {prompt2}, … in `text` replaced by the drawn prompts' phrases ({prompt} is the first). */
export function fillPhrases(text: string, drawn: DrawnPrompt[]): string {
  return text.replace(/\{prompt(\d*)\}/g, (whole, n: string) => {
    const i = n === '' ? 0 : Number(n) - 1;
    if (!drawn[i]) throw new InputError(`${whole} in the text, but only ${drawn.length} visual prompt${drawn.length === 1 ? ' was' : 's were'} drawn`);
    return drawn[i].phrase;
  });
}
