/**
 * A checkpoint's tokenizer from its files: tokenizer.json, else (the original LLaVA checkpoints) the SentencePiece
 * tokenizer.model converted as transformers converts it, with tokenizer_config.json and special_tokens_map.json.
 */
import type { Json } from '../config/fields.js';
import { ConfigError } from '../errors.js';
import { readJson, type CheckpointFiles } from '../io/checkpoint.js';
import { parseSentencePieceModel, tokenizerJsonFromSentencePiece } from './sentencepiece.js';
import { VipLlavaTokenizer } from './tokenizer.js';

export interface TokenizerFiles {
  tokenizer: VipLlavaTokenizer;
  /** tokenizer_config.json and where it was read, or null without one. */
  config: { json: Json; path: string } | null;
}

const optionalJson = async (snapshot: CheckpointFiles, name: string): Promise<{ json: Json; path: string } | null> => {
  const file = await snapshot.optionalFile(name);
  return file ? { json: await readJson(file), path: file.name } : null;
};

/**
 * The tokenizer of `snapshot`. `prependNormalizer`: convert a tokenizer.model as transformers 4.37's
 * LlamaTokenizerFast did (see tokenizerJsonFromSentencePiece), for the original LLaVA checkpoints whose eval loads
 * a fast tokenizer.
 */
export async function loadTokenizer(snapshot: CheckpointFiles, { prependNormalizer = false } = {}): Promise<TokenizerFiles> {
  const config = await optionalJson(snapshot, 'tokenizer_config.json');
  const specialTokens = (await optionalJson(snapshot, 'special_tokens_map.json'))?.json ?? {};
  const json = await snapshot.optionalFile('tokenizer.json');
  if (json) return { tokenizer: new VipLlavaTokenizer(await readJson(json), config?.json ?? {}, specialTokens, json.name), config };
  const converted = await sentencePieceTokenizerJson(snapshot, config?.json ?? {}, { prependNormalizer });
  return { tokenizer: new VipLlavaTokenizer(converted.json, config?.json ?? {}, specialTokens, converted.name), config };
}

/** The tokenizer.json a checkpoint's SentencePiece tokenizer.model converts to (an error naming it when it has none). */
export async function sentencePieceTokenizerJson(snapshot: CheckpointFiles, config: Json, { prependNormalizer = false } = {}): Promise<{ json: Json; name: string }> {
  const spm = await snapshot.optionalFile('tokenizer.model');
  if (!spm) throw new ConfigError(`${snapshot.description} has no tokenizer.json (nor a SentencePiece tokenizer.model)`);
  let bytes: Uint8Array;
  try {
    bytes = await spm.read(0, await spm.size());
  } finally {
    await spm.close();
  }
  return { json: tokenizerJsonFromSentencePiece(parseSentencePieceModel(bytes, spm.name), config, spm.name, { prependNormalizer }), name: spm.name };
}
