/**
 * Visual-prompt flags shared by `draw`, `generate` and `chat`: --box, --polygon and --point add prompts (in
 * that order); --shape and --color, repeated, apply to them in the same order. The first prompt is red unless
 * a colour is given; later ones get distinct palette colours.
 */
import { cropWarnings, drawVisualPrompts, fillPhrases, InputError, loadImage, SHAPES, type DrawnPrompt, type RgbImage, type ShapeName, type VisualPrompt } from '../index.node.js';
import { UsageError } from './generation_flags.js';

export const VISUAL_PROMPT_FLAGS = {
  box: { type: 'string', multiple: true },
  polygon: { type: 'string', multiple: true },
  point: { type: 'string', multiple: true },
  shape: { type: 'string', multiple: true },
  color: { type: 'string', multiple: true },
  seed: { type: 'string' },
  style: { type: 'string' },
  alpha: { type: 'string' },
  width: { type: 'string' },
} as const;

export const VISUAL_PROMPT_HELP = `visual prompt options (drawn on the first --image):
  --box x1,y1,x2,y2         a region (repeatable); --polygon x,y,x,y,... a mask; --point x,y
  --shape NAME              ${SHAPES.join(', ')} (repeatable, in prompt order;
                            default rectangle, or point for --point)
  --color NAME              red, lime, blue, yellow, fuchsia, aqua, orange, purple, gold, #rrggbb or r,g,b
  --style eval|random       eval (default): alpha 128 and the evaluation widths; random: training variety
  --seed N --alpha N --width W
  In --prompt, {prompt} becomes the first prompt's phrase ("within the red rectangle"), {prompt2} the second's.`;

type Values = Partial<Record<keyof typeof VISUAL_PROMPT_FLAGS, string | string[]>>;

function numbers(text: string, flag: string, count?: number): number[] {
  const values = text.split(',').map((v) => Number(v.trim()));
  if (values.some((v) => !Number.isFinite(v)) || (count !== undefined && values.length !== count)) {
    throw new UsageError(`--${flag} "${text}" must be ${count ?? 'an even number of'} comma-separated numbers`);
  }
  return values;
}

/** The prompts the flags describe (none when no region flag is given). */
export function visualPrompts(values: Values): VisualPrompt[] {
  const shapes = (values.shape as string[] | undefined) ?? [];
  const colors = (values.color as string[] | undefined) ?? [];
  const regions: Array<Pick<VisualPrompt, 'box' | 'polygons' | 'point'> & { fallback: ShapeName }> = [
    ...((values.box as string[] | undefined) ?? []).map((b) => ({ box: numbers(b, 'box', 4) as [number, number, number, number], fallback: 'rectangle' as const })),
    ...((values.polygon as string[] | undefined) ?? []).map((p) => ({ polygons: [numbers(p, 'polygon')], fallback: 'mask_contour' as const })),
    ...((values.point as string[] | undefined) ?? []).map((p) => ({ point: numbers(p, 'point', 2) as [number, number], fallback: 'point' as const })),
  ];
  if (regions.length === 0) {
    if (shapes.length || colors.length) throw new UsageError('--shape and --color need a region: --box, --polygon or --point');
    return [];
  }
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  if (shapes.length > Math.max(1, regions.length)) {
    throw new UsageError(`${count(shapes.length, '--shape')} for ${count(regions.length, 'region')}: give one --shape per --box/--polygon/--point, in order (one --shape alone applies to all)`);
  }
  if (colors.length > regions.length) throw new UsageError(`${count(colors.length, '--color')} for ${count(regions.length, 'region')}: give at most one --color per region, in order`);
  const alpha = values.alpha === undefined ? undefined : Number(values.alpha);
  const width = values.width === undefined ? undefined : Number(values.width);
  return regions.map(({ fallback, ...region }, i) => {
    const shape = (shapes[i] ?? (shapes.length === 1 ? shapes[0] : fallback)) as ShapeName;
    if (!SHAPES.includes(shape)) throw new UsageError(`--shape "${shape}" is not one of ${SHAPES.join(', ')}`);
    const color = colors[i] ?? (i === 0 ? 'red' : undefined);
    return { shape, ...region, color, alpha, width };
  });
}

export function drawStyle(values: Values): { seed: number; style: 'eval' | 'random' } {
  const style = (values.style as string | undefined) ?? 'eval';
  if (style !== 'eval' && style !== 'random') throw new UsageError(`--style must be eval or random, got "${style}"`);
  const seed = values.seed === undefined ? 0 : Number(values.seed);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${values.seed}"`);
  return { seed, style };
}

/** Loads `file` and draws the prompts on it. */
export async function drawOnImage(file: string | RgbImage, prompts: VisualPrompt[], values: Values): Promise<{ image: RgbImage; drawn: DrawnPrompt[] }> {
  const { image, prompts: drawn } = drawVisualPrompts(typeof file === 'string' ? await loadImage(file) : file, prompts, drawStyle(values));
  return { image, drawn };
}

/** {prompt}, {prompt1}, … replaced by the drawn prompts' phrases; a missing one is a usage error. */
export function fillPromptText(text: string, drawn: DrawnPrompt[]): string {
  try {
    return fillPhrases(text, drawn);
  } catch (e) {
    throw e instanceof InputError ? new UsageError(e.message.replace('in the text', 'in the prompt')) : e;
  }
}

export { cropWarnings };
