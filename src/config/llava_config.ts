/**
 * The original LLaVA / ViP-LLaVA checkpoint format (mucai/vip-llava-*: LlavaLlamaForCausalLM and
 * LlavaPhi3ForCausalLM): one flat text config with `mm_*` fields, no vision config (the tower is fetched from
 * its own hub id), no image token in the vocabulary (the original splices index -200 into the ids). Read here
 * into the VipLlava config dict the same weights mean in transformers' layout; the key table renames the
 * tensors (weights/key_map.ts).
 */
import { ConfigError } from '../errors.js';
import { isObject, show, type Json } from './fields.js';

/** model_type of the original configs → the text model's model_type. */
const TEXT_MODEL_TYPES: Record<string, string> = { llava: 'llama', llava_llama: 'llama', llava_mistral: 'mistral', llava_phi3: 'phi3' };

/** The vision towers ViP-LLaVA's builder knows, by the name its configs store: clip_4layers_336 loads this hub id. */
export const VIP_VISION_TOWERS: Record<string, string> = { clip_4layers_336: 'openai/clip-vit-large-patch14-336' };

/** The five layers clip_4layer_encoder.py concatenates, in its order. */
const FEATURE_LAYERS = [-2, -5, -8, -11, 6];

/** Conversation templates the original eval scripts choose (llava/eval/model_vqa*.py). */
export type LlavaTemplate = 'llava_v1' | 'llava_llama_3' | 'llava_phi_3';

/** What llava/eval/model_vqa.py stops generation at besides the tokenizer's eos (its `terminators`), per template. */
const TEMPLATE_STOPS: Record<LlavaTemplate, string[]> = { llava_v1: [], llava_llama_3: ['<|eot_id|>'], llava_phi_3: ['<|end|>'] };

/** Whether a config.json is in the original LLaVA format. */
export function isLlavaConfig(json: Json): boolean {
  return typeof json.model_type === 'string' && json.model_type in TEXT_MODEL_TYPES;
}

/** What an original checkpoint leaves to the code that loads it. */
export interface LlavaSettings {
  /** The hub id (or folder) its vision tower is loaded from. */
  visionTower: string;
  /** image_aspect_ratio: "pad" pads to a square of the mean colour (expand2square); otherwise the processor as is. */
  imageAspectRatio: 'pad' | 'crop';
  template: LlavaTemplate;
  /** Tokens generation stops at besides the tokenizer's eos, as model_vqa.py's `terminators` list them. */
  stopTokens: string[];
  /**
   * Whether the eval loads the tokenizer as a fast one (llava/model/builder.py: use_fast=True for Phi-3 checkpoints,
   * False for the others). Without a tokenizer.json,
   * transformers 4.37.2 (ViP-LLaVA's pin) then converts tokenizer.model with a normalizer that prepends "▁" to every
   * text between special tokens, whatever tokenizer_config.json's `legacy` says.
   */
  fastTokenizer: boolean;
}

/**
 * The model name the eval scripts test for "llama-3" / "phi-3": get_model_name_from_path (llava/mm_utils.py) of a
 * folder, or of a hub id (given as `owner/name@revision`, as checkpoints describe themselves, or plain).
 */
export function evalModelName(name: string): string {
  const hub = /^([\w.-]+\/[\w.-]+)@.+$/.exec(name);
  const parts = (hub ? hub[1] : name).replace(/[\\/]+$/, '').split(/[\\/]/);
  const last = parts[parts.length - 1];
  return last.startsWith('checkpoint-') && parts.length > 1 ? `${parts[parts.length - 2]}_${last}` : last;
}

const fail = (source: string, key: string, why: string): never => {
  throw new ConfigError(`${source}: ${key} ${why}`);
};

/** The settings of an original config; `name` is the checkpoint's folder or hub id (the eval scripts look at its last part). */
export function llavaSettings(json: Json, name: string, source = 'config.json'): LlavaSettings {
  const tower = json.mm_vision_tower ?? json.vision_tower;
  if (typeof tower !== 'string') fail(source, 'mm_vision_tower', `is missing or not a string (got ${show(tower)})`);
  const visionTower = VIP_VISION_TOWERS[tower as string];
  if (!visionTower) {
    fail(source, 'mm_vision_tower', `is "${tower}", LLaVA's single-layer tower; only ViP-LLaVA's multi-layer tower ("clip_4layers_336") is supported`);
  }
  const projector = json.mm_projector_type ?? 'linear';
  if (projector !== 'mlp2x_gelu') fail(source, 'mm_projector_type', `is ${show(projector)}; ViP-LLaVA's projector is "mlp2x_gelu"`);
  for (const key of ['mm_use_im_start_end', 'mm_use_im_patch_token']) if (json[key] === true) fail(source, key, 'is true, which no ViP-LLaVA checkpoint uses and this library does not support');
  if ((json.mm_vision_select_feature ?? 'patch') !== 'patch') fail(source, 'mm_vision_select_feature', `is ${show(json.mm_vision_select_feature)}; only "patch" is supported`);
  if ((json.mm_patch_merge_type ?? 'flat') !== 'flat') fail(source, 'mm_patch_merge_type', `is ${show(json.mm_patch_merge_type)}; only "flat" is supported`);
  const aspect = json.image_aspect_ratio ?? null;
  if (aspect !== null && aspect !== 'pad' && aspect !== 'square') fail(source, 'image_aspect_ratio', `is ${show(aspect)}; "pad" or none are supported`);
  const lower = evalModelName(name).toLowerCase();
  const template: LlavaTemplate = lower.includes('llama-3') ? 'llava_llama_3' : lower.includes('phi-3') || json.model_type === 'llava_phi3' ? 'llava_phi_3' : 'llava_v1';
  return { visionTower, imageAspectRatio: aspect === 'pad' ? 'pad' : 'crop', template, stopTokens: TEMPLATE_STOPS[template], fastTokenizer: template === 'llava_phi_3' };
}

/**
 * The VipLlava config dict of an original config, given its vision tower's config.json (a CLIPConfig or a
 * CLIPVisionConfig). The image token is the first id past the vocabulary (nothing embeds it: its rows are the
 * image features), as the original's -200 was.
 */
export function vipLlavaDictFromLlava(json: Json, towerConfig: Json, source = 'config.json', towerSource = 'the vision tower config.json'): Json {
  const vision = isObject(towerConfig.vision_config) ? towerConfig.vision_config : towerConfig;
  if (vision.model_type !== undefined && vision.model_type !== 'clip_vision_model') {
    throw new ConfigError(`${towerSource}: model_type is ${show(vision.model_type)}, not a CLIP vision model`);
  }
  const text: Json = {};
  for (const [key, value] of Object.entries(json)) {
    if (!key.startsWith('mm_') && !['architectures', 'image_aspect_ratio', 'model_type', 'vision_tower'].includes(key)) text[key] = value;
  }
  text.model_type = TEXT_MODEL_TYPES[json.model_type as string];
  const vocab = json.vocab_size;
  if (typeof vocab !== 'number' || !Number.isInteger(vocab) || vocab < 1) fail(source, 'vocab_size', `must be a positive integer, got ${show(vocab)}`);
  const hidden = typeof vision.hidden_size === 'number' ? vision.hidden_size : 1024;
  if (json.mm_hidden_size !== undefined && json.mm_hidden_size !== hidden * FEATURE_LAYERS.length) {
    fail(source, 'mm_hidden_size', `(${show(json.mm_hidden_size)}) is not ${FEATURE_LAYERS.length} × the vision tower's hidden_size (${hidden})`);
  }
  return {
    model_type: 'vipllava',
    text_config: text,
    vision_config: { ...vision, model_type: 'clip_vision_model' },
    vision_feature_layers: FEATURE_LAYERS,
    image_token_index: vocab,
    projector_hidden_act: 'gelu',
    projector_layernorm_eps: 1e-5, // nn.LayerNorm's default in SimpleFeatureSingleModel
    ...(json.pad_token_id !== undefined ? { pad_token_id: json.pad_token_id } : {}),
    ...(json.torch_dtype !== undefined ? { torch_dtype: json.torch_dtype } : {}),
  };
}
