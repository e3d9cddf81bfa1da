/**
 * A checkpoint's generation settings: its generation_config.json (transformers' defaults without one), and for the
 * original LLaVA format what ViP-LLaVA's eval adds on top of that file, so that generate() answers as the eval did:
 *
 * - llava/eval/model_vqa.py calls generate(eos_token_id=terminators), which replaces the file's list:
 *   `terminators = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|eot_id|>")]` when the model name holds
 *   "llama-3", `[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|end|>")]` for "phi-3", else
 *   `[tokenizer.eos_token_id]` (LlavaSettings.stopTokens).
 * - llava/model/builder.py resizes the model to len(tokenizer) (`model.resize_token_embeddings(len(tokenizer))`):
 *   a vocabulary larger than the tokenizer (Phi-3's 32064 rows for 32011 tokens) loses its last rows, so those ids
 *   are never generated (suppressed here). A tokenizer larger than the vocabulary (Llama-3's trainer-added `<pad>`)
 *   gave the eval a randomly initialised row, which nothing can reproduce and no answer needs.
 */
import { DEFAULT_GENERATION_CONFIG, parseGenerationConfig, type GenerationConfig } from '../config/generation_config.js';
import type { LlavaSettings } from '../config/llava_config.js';
import { readJson, type CheckpointFiles } from '../io/checkpoint.js';
import type { VipLlavaTokenizer } from './tokenizer.js';
import { loadTokenizer } from './tokenizer_files.js';

/** The generation config of a checkpoint; `llava`: its original-format settings (readModelConfig's), or null. */
export async function readGenerationConfig(checkpoint: CheckpointFiles, llava: LlavaSettings | null, vocabSize: number): Promise<GenerationConfig> {
  const file = await checkpoint.optionalFile('generation_config.json');
  const base = file ? parseGenerationConfig(await readJson(file), file.name) : { ...DEFAULT_GENERATION_CONFIG };
  if (!llava) return base;
  const hasTokenizer = (await checkpoint.optionalFile('tokenizer.json')) ?? (await checkpoint.optionalFile('tokenizer.model'));
  if (!hasTokenizer) return base; // weights without a tokenizer: nothing to read the eval's stops from
  const { tokenizer } = await loadTokenizer(checkpoint, { prependNormalizer: llava.fastTokenizer });
  return evalGenerationConfig(base, llava, tokenizer, vocabSize);
}

/** `base` with model_vqa.py's terminators as its eos list and the ids past len(tokenizer) suppressed (see above). */
export function evalGenerationConfig(base: GenerationConfig, llava: LlavaSettings, tokenizer: VipLlavaTokenizer, vocabSize: number): GenerationConfig {
  const stops = [tokenizer.eosTokenId, ...llava.stopTokens.map((t) => tokenizer.tokenToId(t))].filter((id): id is number => id !== null && id !== undefined);
  const eos = stops.length > 0 ? [...new Set(stops)] : base.eos_token_id;
  const beyond = Array.from({ length: Math.max(0, vocabSize - tokenizer.vocabSize) }, (_, i) => tokenizer.vocabSize + i);
  const suppress = beyond.length > 0 ? [...new Set([...(base.suppress_tokens ?? []), ...beyond])] : base.suppress_tokens;
  return { ...base, eos_token_id: eos, suppress_tokens: suppress };
}
