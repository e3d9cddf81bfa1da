/**
 * The one table that renames checkpoint keys. Four layouts of VipLlavaForConditionalGeneration exist in the wild
 * (reference §2.2), besides the original LLaVA format and its tower's CLIP checkpoint (rules below):
 *
 *   hub legacy (llava-hf/vip-llava-*-hf)  language_model.model.*   language_model.lm_head.*  vision_tower.vision_model.*  multi_modal_projector.*
 *   transformers 4.5x in memory           model.language_model.*   lm_head.*                 model.vision_tower.vision_model.*  model.multi_modal_projector.*
 *   transformers 5.x in memory            model.language_model.*   lm_head.*                 model.vision_tower.*  model.multi_modal_projector.*
 *   transformers 5.x save_pretrained      language_model.model.*   language_model.lm_head.*  vision_tower.*  multi_modal_projector.*
 *
 * All are renamed to the 5.x in-memory names, which are also this library's module paths. The first rule
 * that matches wins; canonical names match no rule, so renaming is idempotent.
 */
const RULES: ReadonlyArray<readonly [RegExp, string]> = [
  // the original LLaVA format (mucai/vip-llava-*: LlavaLlamaForCausalLM, reference §2.5)
  [/^model\.mm_projector\.clip_layernorm\./, 'model.multi_modal_projector.projector_layernorm.'],
  [/^model\.mm_projector\.final_linear\.0\./, 'model.multi_modal_projector.linear_1.'],
  [/^model\.mm_projector\.final_linear\.2\./, 'model.multi_modal_projector.linear_2.'],
  [/^model\.(embed_tokens|layers|norm)\./, 'model.language_model.$1.'],
  // its vision tower's own checkpoint (openai/clip-vit-large-patch14-336: CLIPModel or CLIPVisionModel)
  [/^vision_model\./, 'model.vision_tower.'],
  [/^language_model\.lm_head\./, 'lm_head.'],
  [/^language_model\.model\./, 'model.language_model.'],
  [/^language_model\./, 'model.language_model.'],
  [/^(model\.)?vision_tower\.vision_model\./, 'model.vision_tower.'],
  [/^vision_tower\./, 'model.vision_tower.'],
  [/^multi_modal_projector\./, 'model.multi_modal_projector.'],
];

/**
 * Buffers some old checkpoints carry that are never parameters, and the copy of the vision tower an original
 * LLaVA checkpoint may hold (its code loads the tower from the tower's own checkpoint, as this library does).
 */
const DROPPED = /(^|\.)(position_ids|inv_freq)$|^model\.vision_tower\.vision_tower\./;

/** What a vision tower's own CLIPModel checkpoint holds besides the vision model: the text half and the projections. */
export const NOT_VIPLLAVA = /^(text_model\.|visual_projection\.|text_projection\.|logit_scale$)/;

/**
 * Tensors checkpoints carry that VipLlava never uses: NOT_VIPLLAVA, and CLIP's final norm (the features come
 * from hidden states), which is a parameter of transformers' VipLlava all the same.
 */
export const UNUSED = /(^|\.)post_layernorm\.|^(text_model\.|visual_projection\.|text_projection\.|logit_scale$)/;

/** The canonical name of a checkpoint key, or null for a key that is never a parameter. */
export function canonicalKey(key: string): string | null {
  if (DROPPED.test(key)) return null;
  for (const [pattern, replacement] of RULES) {
    if (pattern.test(key)) return key.replace(pattern, replacement);
  }
  return key;
}

/** Canonical names back to the hub's own layout (llava-hf/vip-llava-*-hf), which every transformers version loads. */
const HUB_LAYOUT: ReadonlyArray<readonly [RegExp, string]> = [
  [/^lm_head\./, 'language_model.lm_head.'],
  [/^model\.language_model\./, 'language_model.model.'],
  [/^model\.vision_tower\./, 'vision_tower.vision_model.'],
  [/^model\.multi_modal_projector\./, 'multi_modal_projector.'],
];

/** The hub-layout key of a canonical name (`vipllava convert` writes these). */
export function hubKey(canonical: string): string {
  for (const [pattern, replacement] of HUB_LAYOUT) if (pattern.test(canonical)) return canonical.replace(pattern, replacement);
  return canonical;
}
