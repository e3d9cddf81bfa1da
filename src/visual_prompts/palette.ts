/** ViP-LLaVA's colours and the words its training text used for each shape. */
import { InputError } from '../errors.js';

/** color_pool: the nine named colours (the names appear verbatim in prompts). */
export const PALETTE = {
  red: [255, 0, 0],
  lime: [0, 255, 0],
  blue: [0, 0, 255],
  yellow: [255, 255, 0],
  fuchsia: [255, 0, 255],
  aqua: [0, 255, 255],
  orange: [255, 165, 0],
  purple: [128, 0, 128],
  gold: [255, 215, 0],
} as const satisfies Record<string, readonly [number, number, number]>;

export type ColorName = keyof typeof PALETTE;
export type Rgb = readonly [number, number, number];

export const SHAPES = ['rectangle', 'ellipse', 'triangle', 'point', 'scribble', 'mask_contour', 'mask', 'arrow'] as const;
export type ShapeName = (typeof SHAPES)[number];

/** words_shape: (preposition, noun) per shape. */
export const SHAPE_WORDS: Record<ShapeName, [string, string]> = {
  rectangle: ['within', 'rectangle'],
  ellipse: ['within', 'ellipse'],
  triangle: ['with', 'triangle'],
  point: ['at', 'point'],
  scribble: ['with', 'scribble'],
  mask_contour: ['with', 'mask contour'],
  mask: ['with', 'mask'],
  arrow: ['pointed to by', 'arrow'],
};

/** A colour given by palette name, "#rrggbb", "r,g,b" or [r, g, b]; the name is kept only for palette colours. */
export function parseColor(color: string | Rgb): { rgb: Rgb; name: ColorName | null } {
  if (Array.isArray(color)) {
    if (color.length !== 3 || !color.every((c) => Number.isInteger(c) && c >= 0 && c <= 255)) {
      throw new InputError(`colour ${JSON.stringify(color)} must be three integers 0-255`);
    }
    const rgb = color as unknown as Rgb;
    return { rgb, name: paletteName(rgb) };
  }
  const text = String(color).trim().toLowerCase();
  if (text in PALETTE) return { rgb: PALETTE[text as ColorName], name: text as ColorName };
  let m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/.exec(text);
  if (m) return parseColor([parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)]);
  m = /^(\d{1,3}),\s*(\d{1,3}),\s*(\d{1,3})$/.exec(text);
  if (m) return parseColor([Number(m[1]), Number(m[2]), Number(m[3])]);
  throw new InputError(`unknown colour "${color}" (use ${Object.keys(PALETTE).join(', ')}, #rrggbb or r,g,b)`);
}

function paletteName(rgb: Rgb): ColorName | null {
  for (const [name, value] of Object.entries(PALETTE)) if (value.every((v, i) => v === rgb[i])) return name as ColorName;
  return null;
}

/** "within the red rectangle"; the colour word only for palette colours ("within the rectangle"). */
export function promptPhrase(shape: ShapeName, color: ColorName | null): string {
  const [prep, noun] = SHAPE_WORDS[shape];
  return `${prep} the ${color ? `${color} ` : ''}${noun}`;
}
