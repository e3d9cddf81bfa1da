import { ACTIVATIONS, type Activation } from '../vocabulary.js';
import { Fields } from './fields.js';

/** CLIPVisionConfig, with transformers' class defaults for every field a config.json may leave out. */
export interface ClipVisionConfig {
  model_type: 'clip_vision_model';
  hidden_size: number;
  intermediate_size: number;
  projection_dim: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_channels: number;
  image_size: number;
  patch_size: number;
  hidden_act: Activation;
  layer_norm_eps: number;
  attention_dropout: number;
  initializer_range: number;
  initializer_factor: number;
}

/** CLIPVisionConfig class defaults (ViT-B/32). */
export const CLIP_VISION_DEFAULTS: ClipVisionConfig = {
  model_type: 'clip_vision_model',
  hidden_size: 768,
  intermediate_size: 3072,
  projection_dim: 512,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  num_channels: 3,
  image_size: 224,
  patch_size: 32,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
  attention_dropout: 0,
  initializer_range: 0.02,
  initializer_factor: 1,
};

/** What VipLlavaConfig builds when `vision_config` is absent: CLIP ViT-L/14 at 336 px. */
export const CLIP_VIT_L_14_336: ClipVisionConfig = {
  ...CLIP_VISION_DEFAULTS,
  intermediate_size: 4096,
  hidden_size: 1024,
  patch_size: 14,
  image_size: 336,
  num_hidden_layers: 24,
  num_attention_heads: 16,
  projection_dim: 768,
};

export function parseClipVisionConfig(f: Fields): ClipVisionConfig {
  const d = CLIP_VISION_DEFAULTS;
  f.oneOf('model_type', 'clip_vision_model', ['clip_vision_model']);
  const c: ClipVisionConfig = {
    model_type: 'clip_vision_model',
    hidden_size: f.int('hidden_size', d.hidden_size, { min: 1 }),
    intermediate_size: f.int('intermediate_size', d.intermediate_size, { min: 1 }),
    projection_dim: f.int('projection_dim', d.projection_dim),
    num_hidden_layers: f.int('num_hidden_layers', d.num_hidden_layers, { min: 1 }),
    num_attention_heads: f.int('num_attention_heads', d.num_attention_heads, { min: 1 }),
    num_channels: f.int('num_channels', d.num_channels, { min: 1 }),
    image_size: f.squareSize('image_size', d.image_size),
    patch_size: f.squareSize('patch_size', d.patch_size),
    hidden_act: f.oneOf('hidden_act', d.hidden_act, ACTIVATIONS),
    layer_norm_eps: f.num('layer_norm_eps', d.layer_norm_eps, { positive: true }),
    attention_dropout: f.num('attention_dropout', d.attention_dropout),
    initializer_range: f.num('initializer_range', d.initializer_range),
    initializer_factor: f.num('initializer_factor', d.initializer_factor),
  };
  if (c.hidden_size % c.num_attention_heads !== 0) {
    f.fail('num_attention_heads', `(${c.num_attention_heads}) does not divide ${f.prefix}hidden_size (${c.hidden_size})`);
  }
  if (c.image_size % c.patch_size !== 0) {
    f.fail('patch_size', `(${c.patch_size}) does not divide ${f.prefix}image_size (${c.image_size})`);
  }
  return c;
}

/** Patches per image side and in total (the CLS token not counted). */
export function numPatches(c: ClipVisionConfig): number {
  return (c.image_size / c.patch_size) ** 2;
}
