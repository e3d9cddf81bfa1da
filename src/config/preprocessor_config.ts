import { Fields, isObject, show } from './fields.js';
import { ConfigError } from '../errors.js';

/** CLIPImageProcessor settings (preprocessor_config.json, or processor_config.json's "image_processor" in 5.x). */
export interface ImageProcessorConfig {
  do_convert_rgb: boolean;
  do_resize: boolean;
  /** Resize so the shorter side is `shortest_edge`, or to exactly height × width. */
  size: { shortest_edge: number } | { height: number; width: number };
  /** A PIL.Image.Resampling value (3 = bicubic). */
  resample: number;
  do_center_crop: boolean;
  crop_size: { height: number; width: number };
  do_rescale: boolean;
  rescale_factor: number;
  do_normalize: boolean;
  image_mean: [number, number, number];
  image_std: [number, number, number];
}

export const OPENAI_CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const OPENAI_CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** CLIPImageProcessor class defaults. */
export const CLIP_IMAGE_PROCESSOR_DEFAULTS: ImageProcessorConfig = {
  do_convert_rgb: true,
  do_resize: true,
  size: { shortest_edge: 224 },
  resample: 3,
  do_center_crop: true,
  crop_size: { height: 224, width: 224 },
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: OPENAI_CLIP_MEAN,
  image_std: OPENAI_CLIP_STD,
};

function triple(f: Fields, key: string, fallback: [number, number, number]): [number, number, number] {
  const v = f.obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'number') return [v, v, v];
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) return v as [number, number, number];
  f.fail(key, `must be a number or 3 numbers, got ${show(v)}`);
}

export function parseImageProcessorConfig(json: unknown, source: string): ImageProcessorConfig {
  if (!isObject(json)) throw new ConfigError(`${source}: expected a JSON object`);
  const f = new Fields(json, '', source);
  const d = CLIP_IMAGE_PROCESSOR_DEFAULTS;
  const type = f.str('image_processor_type', 'CLIPImageProcessor');
  if (!/^CLIPImageProcessor(Fast|Pil)?$/.test(type)) f.fail('image_processor_type', `"${type}" is not supported (expected CLIPImageProcessor)`);
  // An int size means the shortest edge (default_to_square=False); an int crop_size a square.
  let size: ImageProcessorConfig['size'] = d.size;
  const s = typeof json.size === 'number' ? null : f.sub('size');
  if (typeof json.size === 'number') size = { shortest_edge: f.int('size', 224, { min: 1 }) };
  else if (s?.has('shortest_edge')) size = { shortest_edge: s.int('shortest_edge', 224, { min: 1 }) };
  else if (s?.has('height') && s.has('width')) size = { height: s.int('height', 224, { min: 1 }), width: s.int('width', 224, { min: 1 }) };
  else if (s) f.fail('size', `${show(json.size)} is not supported (use shortest_edge, or height and width)`);
  let crop = d.crop_size;
  const c = typeof json.crop_size === 'number' ? null : f.sub('crop_size');
  if (typeof json.crop_size === 'number') {
    const n = f.int('crop_size', 224, { min: 1 });
    crop = { height: n, width: n };
  } else if (c) crop = { height: c.int('height', 224, { min: 1 }), width: c.int('width', 224, { min: 1 }) };
  return {
    do_convert_rgb: f.bool('do_convert_rgb', d.do_convert_rgb),
    do_resize: f.bool('do_resize', d.do_resize),
    size,
    resample: f.int('resample', d.resample, { min: 0 }),
    do_center_crop: f.bool('do_center_crop', d.do_center_crop),
    crop_size: crop,
    do_rescale: f.bool('do_rescale', d.do_rescale),
    rescale_factor: f.num('rescale_factor', d.rescale_factor, { positive: true }),
    do_normalize: f.bool('do_normalize', d.do_normalize),
    image_mean: triple(f, 'image_mean', d.image_mean),
    image_std: triple(f, 'image_std', d.image_std),
  };
}
