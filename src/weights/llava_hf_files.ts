/**
 * The files transformers' convert_vipllava_weights_to_hf.py makes of an original ViP-LLaVA checkpoint
 * (mucai/vip-llava-*) for the llava-hf layout, as JSON: `<image>` added as the first id past the tokenizer
 * (special, not normalized) and `<pad>` after it as the pad token, the embedding rows padded to a multiple of
 * 64 (HfVocabulary), a VipLlava config.json, and LlavaProcessor's files around the tower's CLIPImageProcessor.
 */
import { isObject, show, type Json } from '../config/fields.js';
import { vipLlavaDictFromLlava, type LlavaTemplate } from '../config/llava_config.js';
import { ConfigError } from '../errors.js';
import { BUILTIN_TEMPLATES } from '../processor/chat_template.js';

export const IMAGE_TOKEN = '<image>';
export const PAD_TOKEN = '<pad>';
/** resize_token_embeddings(vocab + 2, pad_to_multiple_of=64) in the transformers script. */
const PAD_TO_MULTIPLE_OF = 64;

/**
 * The ids the conversion adds. `<image>` is the first id past the tokenizer and `<pad>` the next (a tokenizer
 * that has a `<pad>` keeps it, as add_special_tokens does); embed_tokens and lm_head grow to cover both, padded to
 * a multiple of 64. For Vicuna's 32000 tokens and rows that is transformers' 32000, 32001 and 32064. A vocabulary
 * larger than its tokenizer (Phi-3's 32064 rows for 32011 tokens) keeps its rows and takes the new ids among them:
 * a tokenizer.json cannot leave a gap before an added token (the tokenizers library renumbers it).
 */
export interface HfVocabulary {
  /** The original vocab_size: the rows the checkpoint's embed_tokens and lm_head have. */
  original: number;
  imageTokenId: number;
  padTokenId: number;
  /** Whether `<pad>` is added (false: the tokenizer has one). */
  addPad: boolean;
  /** Rows of the converted embed_tokens and lm_head. */
  padded: number;
}

/** The vocabulary of a conversion, from the original vocab_size and the tokenizer.json (`source` names it in errors). */
export function hfVocabulary(original: number, tokenizer: Json, source: string): HfVocabulary {
  const ids = tokenizerIds(tokenizer);
  const image = ids.get(IMAGE_TOKEN);
  if (image !== undefined) throw new ConfigError(`${source}: already has a "${IMAGE_TOKEN}" token (id ${image}); the conversion adds it past the last token`);
  let size = 0; // a loop: Llama-3's 128256 ids are too many arguments for Math.max
  for (const id of ids.values()) size = Math.max(size, id + 1);
  const pad = ids.get(PAD_TOKEN);
  return { original, imageTokenId: size, padTokenId: pad ?? size + 1, addPad: pad === undefined, padded: Math.max(original, Math.ceil((size + 2) / PAD_TO_MULTIPLE_OF) * PAD_TO_MULTIPLE_OF) };
}

/** The VipLlava config.json: the one the library derives from the original (vipLlavaDictFromLlava), with the conversion's vocabulary and tokens. */
export function hfConfig(llava: Json, tower: Json, v: HfVocabulary, source: string, towerSource: string): Json {
  const dict = vipLlavaDictFromLlava(llava, tower, source, towerSource);
  return {
    architectures: ['VipLlavaForConditionalGeneration'],
    ...dict,
    text_config: { ...(dict.text_config as Json), vocab_size: v.padded },
    image_token_index: v.imageTokenId,
    pad_token_id: v.padTokenId,
  };
}

/** As transformers adds them: AddedToken("<image>", special=True, normalized=False), and a special pad token. */
const TOKEN_FLAGS = { lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
const addedToken = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

/** Ids a tokenizer.json gives: its model's vocabulary and its added tokens. */
function tokenizerIds(json: Json): Map<string, number> {
  const ids = new Map<string, number>();
  const model = isObject(json.model) ? json.model : {};
  if (Array.isArray(model.vocab)) (model.vocab as unknown[]).forEach((entry, id) => Array.isArray(entry) && ids.set(String(entry[0]), id));
  else if (isObject(model.vocab)) for (const [token, id] of Object.entries(model.vocab)) if (typeof id === 'number') ids.set(token, id);
  for (const t of Array.isArray(json.added_tokens) ? (json.added_tokens as Json[]) : []) if (typeof t.content === 'string' && typeof t.id === 'number') ids.set(t.content, t.id);
  return ids;
}

/** tokenizer.json with `<image>` (and `<pad>`) added. */
export function extendTokenizerJson(json: Json, v: HfVocabulary): Json {
  const added = Array.isArray(json.added_tokens) ? (json.added_tokens as Json[]) : [];
  return { ...json, added_tokens: [...added, addedToken(v.imageTokenId, IMAGE_TOKEN), ...(v.addPad ? [addedToken(v.padTokenId, PAD_TOKEN)] : [])] };
}

/** tokenizer_config.json: the added tokens in added_tokens_decoder, `<pad>` the pad token, LlavaProcessor the processor. */
export function hfTokenizerConfig(config: Json, v: HfVocabulary): Json {
  const decoder = isObject(config.added_tokens_decoder) ? config.added_tokens_decoder : {};
  return {
    ...config,
    added_tokens_decoder: { ...decoder, [v.imageTokenId]: { content: IMAGE_TOKEN, ...TOKEN_FLAGS }, ...(v.addPad ? { [v.padTokenId]: { content: PAD_TOKEN, ...TOKEN_FLAGS } } : {}) },
    pad_token: PAD_TOKEN,
    processor_class: 'LlavaProcessor',
  };
}

export function hfSpecialTokensMap(map: Json): Json {
  return { ...map, pad_token: PAD_TOKEN };
}

/** The tower's CLIPImageProcessor config, its int size / crop_size in the dict form save_pretrained writes. */
export function hfPreprocessorConfig(tower: Json, source: string): Json {
  const type = tower.image_processor_type ?? 'CLIPImageProcessor';
  if (typeof type !== 'string' || !/^CLIPImageProcessor/.test(type)) throw new ConfigError(`${source}: image_processor_type is ${show(type)}, not a CLIPImageProcessor`);
  const out: Json = { ...tower, image_processor_type: type, processor_class: 'LlavaProcessor' };
  delete out.feature_extractor_type; // the pre-4.x name of the same class
  if (typeof tower.size === 'number') out.size = { shortest_edge: tower.size };
  if (typeof tower.crop_size === 'number') out.crop_size = { height: tower.crop_size, width: tower.crop_size };
  return out;
}

/** LlavaProcessor's processor_config.json: each `<image>` is the tower's patches plus CLS, less CLS ("default"). */
export function hfProcessorConfig(patchSize: number): Json {
  return { image_token: IMAGE_TOKEN, num_additional_image_tokens: 1, patch_size: patchSize, processor_class: 'LlavaProcessor', vision_feature_select_strategy: 'default' };
}

/** chat_template.json: the built-in template the original eval scripts use for this checkpoint. */
export function hfChatTemplate(template: LlavaTemplate): Json {
  return { chat_template: BUILTIN_TEMPLATES[template] };
}

/**
 * generation_config.json with what the original eval adds on load (processor/llava_generation.ts), so the converted
 * checkpoint generates as the eval did: its terminators (the tokenizer's eos, then `stopTokens`) as the eos list,
 * and every id the eval's model had no row for (past the original rows or past len(tokenizer): the added
 * `<image>`, `<pad>` and padding rows) suppressed.
 */
export function hfGenerationConfig(json: Json, stopTokens: readonly string[], eosToken: string | null, tokenizer: Json, v: HfVocabulary): Json {
  const ids = tokenizerIds(tokenizer);
  const stops = [eosToken, ...stopTokens].map((t) => (t === null ? undefined : ids.get(t))).filter((id): id is number => id !== undefined);
  const eos = [...new Set(stops)];
  const known = Math.min(v.original, v.imageTokenId); // the eval's rows: the checkpoint's, cut to len(tokenizer)
  const existing = Array.isArray(json.suppress_tokens) ? (json.suppress_tokens as unknown[]).filter((id): id is number => typeof id === 'number') : [];
  const suppress = [...new Set([...existing, ...Array.from({ length: v.padded - known }, (_, i) => known + i)])];
  return { ...json, ...(eos.length > 0 ? { eos_token_id: eos.length === 1 ? eos[0] : eos } : {}), suppress_tokens: suppress };
}

