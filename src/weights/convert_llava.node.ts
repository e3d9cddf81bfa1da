/**
 * `vipllava convert` of an original ViP-LLaVA checkpoint (mucai/vip-llava-*) into the llava-hf layout, as
 * transformers' convert_vipllava_weights_to_hf.py makes llava-hf/vip-llava-*-hf: the vision tower's weights
 * (from the tower's own checkpoint) join the checkpoint's; embed_tokens and lm_head grow to the padded
 * vocabulary (llava_hf_files.ts) in their stored dtypes; the config, tokenizer and processor files are written
 * for VipLlavaForConditionalGeneration and LlavaProcessor.
 *
 * Every new row of both tensors is the mean of the original embed_tokens rows (summed in float64 in row order,
 * then rounded to the stored dtype). The script draws each row from a Gaussian around that same mean with
 * 1e-5 × the rows' covariance; its expected value is used instead, so a conversion is reproducible. Rows the
 * checkpoint has are kept: a vocabulary that already covers the new ids (Phi-3's 32064 rows) is written as it is.
 */
import { isLlavaConfig, type LlavaSettings } from '../config/llava_config.js';
import type { Json } from '../config/fields.js';
import { ConfigError, WeightsError } from '../errors.js';
import { readText, type ByteSource } from '../io/byte_source.js';
import { readJson, type CheckpointFiles } from '../io/checkpoint.js';
import { readModelConfig, type TowerOptions } from '../io/model_config.js';
import { tokenString } from '../processor/tokenizer.js';
import { sentencePieceTokenizerJson } from '../processor/tokenizer_files.js';
import { bfloat16ToFloat32, float32ToBfloat16, float32ToHalf, halfToFloatTable } from '../tensor/float16.js';
import { floatKeys, jsonText } from './json_text.js';
import { hubKey } from './key_map.js';
import { extendTokenizerJson, hfChatTemplate, hfConfig, hfGenerationConfig, hfPreprocessorConfig, hfProcessorConfig, hfSpecialTokensMap, hfTokenizerConfig, hfVocabulary, type HfVocabulary } from './llava_hf_files.js';
import type { PlannedTensor } from './shard_writer.node.js';

/** An original-format checkpoint, with what its conversion needs. */
export interface LlavaSource {
  config: JsonFile;
  settings: LlavaSettings;
  tower: CheckpointFiles;
  towerConfig: JsonFile;
  tokenizer: JsonFile;
  tokenizerConfig: JsonFile | null;
  vocabulary: HfVocabulary;
  patchSize: number;
}

/** The checkpoint as an original-format one, or null when its config.json is not in that format (or it has none). */
export async function openLlava(checkpoint: CheckpointFiles, options: TowerOptions): Promise<LlavaSource | null> {
  const json = await optionalJson(checkpoint, 'config.json');
  if (!json || !isLlavaConfig(json.json)) return null;
  const { config, llava } = await readModelConfig(checkpoint, options);
  const tokenizerConfig = await optionalJson(checkpoint, 'tokenizer_config.json');
  const tokenizer = await tokenizerJson(checkpoint, tokenizerConfig?.json ?? {}, llava!.fastTokenizer);
  return {
    config: json,
    settings: llava!,
    tower: llava!.tower,
    towerConfig: await jsonFile(await llava!.tower.file('config.json')),
    tokenizer,
    tokenizerConfig,
    vocabulary: hfVocabulary(config.text_config.vocab_size, tokenizer.json, tokenizer.name),
    patchSize: config.vision_config.patch_size,
  };
}

const EMBED = hubKey('model.language_model.embed_tokens.weight');
const LM_HEAD = hubKey('lm_head.weight');
const ITEM_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

/** The plan with embed_tokens and lm_head grown to the padded vocabulary (built in memory when written), if it is larger. */
export function extendVocabulary(plan: readonly PlannedTensor[], v: HfVocabulary): PlannedTensor[] {
  const embed = plan.find((p) => p.key === EMBED);
  if (!embed) throw new WeightsError(`the checkpoint has no embed_tokens tensor (${EMBED}) to add the image and pad rows to`);
  for (const p of plan.filter((t) => t.key === EMBED || t.key === LM_HEAD)) {
    if (p.shape.length !== 2 || p.shape[0] !== v.original || p.shape[1] !== embed.shape[1]) {
      throw new WeightsError(`tensor "${p.key}" has shape [${p.shape.join(', ')}], not [${v.original}, ${embed.shape[1]}] (config.json's vocab_size, embed_tokens' width)`);
    }
    if (!ITEM_BYTES[p.dtype]) throw new WeightsError(`tensor "${p.key}" has dtype ${p.dtype}; only F32, F16 and BF16 rows can be added`);
  }
  if (v.padded === v.original) return [...plan];
  let mean: Promise<Float64Array> | undefined;
  const meanRow = () => (mean ??= embed.read().then((bytes) => rowMean(bytes, embed.dtype, embed.shape[0], embed.shape[1])));
  return plan.map((p) => (p.key === EMBED || p.key === LM_HEAD ? grown(p, v.padded, meanRow) : p));
}

function grown(p: PlannedTensor, rows: number, meanRow: () => Promise<Float64Array>): PlannedTensor {
  const [original, width] = p.shape;
  const rowBytes = width * ITEM_BYTES[p.dtype];
  return {
    key: p.key,
    dtype: p.dtype,
    shape: [rows, width],
    bytes: rows * rowBytes,
    read: async () => {
      const row = encodeRow(await meanRow(), p.dtype);
      const out = new Uint8Array(rows * rowBytes);
      out.set(await p.read());
      for (let r = original; r < rows; r++) out.set(row, r * rowBytes);
      return out;
    },
  };
}

/** Float32 values of every 16-bit pattern of a half or bfloat16 dtype. */
function table16(dtype: string): Float32Array {
  return dtype === 'F16' ? halfToFloatTable() : bfloat16ToFloat32(Uint16Array.from({ length: 65536 }, (_, i) => i));
}

/** The mean of a [rows, width] tensor's rows, in float64. */
function rowMean(bytes: Uint8Array, dtype: string, rows: number, width: number): Float64Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const sum = new Float64Array(width);
  if (dtype === 'F32') {
    const values = new Float32Array(aligned.buffer, aligned.byteOffset, rows * width);
    for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) sum[c] += values[r * width + c];
  } else {
    const table = table16(dtype);
    const bits = new Uint16Array(aligned.buffer, aligned.byteOffset, rows * width);
    for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) sum[c] += table[bits[r * width + c]];
  }
  return sum.map((s) => s / rows);
}

/** A row's little-endian bytes in `dtype`. */
function encodeRow(values: Float64Array, dtype: string): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(Float32Array.from(values).buffer);
  return new Uint8Array(Uint16Array.from(values, dtype === 'F16' ? float32ToHalf : float32ToBfloat16).buffer);
}

/**
 * The files beside the weights, by name: config.json, tokenizer.json (the source's, else its tokenizer.model
 * converted as a load converts it), tokenizer_config.json, special_tokens_map.json, the tower's
 * preprocessor_config.json, processor_config.json and the chat template the original's eval uses;
 * generation_config.json with the eval's stops (hfGenerationConfig), and tokenizer.model as it is.
 */
export async function llavaFiles(checkpoint: CheckpointFiles, source: LlavaSource): Promise<Map<string, string | Uint8Array>> {
  const v = source.vocabulary;
  const files = new Map<string, string | Uint8Array>();
  const write = (name: string, json: Json, floats?: ReadonlySet<string>) => files.set(name, jsonText(json, floats));
  const { config, towerConfig } = source;
  write('config.json', hfConfig(config.json, towerConfig.json, v, config.name, towerConfig.name), new Set([...config.floats, ...towerConfig.floats]));

  const { tokenizer, tokenizerConfig } = source;
  write('tokenizer.json', extendTokenizerJson(tokenizer.json, v), tokenizer.floats);
  write('tokenizer_config.json', hfTokenizerConfig(tokenizerConfig?.json ?? {}, v), tokenizerConfig?.floats);
  const specialTokens = await optionalJson(checkpoint, 'special_tokens_map.json');
  write('special_tokens_map.json', hfSpecialTokensMap(specialTokens?.json ?? {}), specialTokens?.floats);

  const image = await optionalJson(source.tower, 'preprocessor_config.json');
  if (!image) throw new ConfigError(`${source.tower.description} (the vision tower) has no preprocessor_config.json`);
  write('preprocessor_config.json', hfPreprocessorConfig(image.json, image.name), image.floats);
  write('processor_config.json', hfProcessorConfig(source.patchSize));
  write('chat_template.json', hfChatTemplate(source.settings.template));

  const generation = await optionalJson(checkpoint, 'generation_config.json');
  const eos = tokenString(tokenizerConfig?.json.eos_token) ?? tokenString(specialTokens?.json.eos_token);
  write('generation_config.json', hfGenerationConfig(generation?.json ?? {}, source.settings.stopTokens, eos, tokenizer.json, v), generation?.floats);
  const model = await readAll(checkpoint, 'tokenizer.model');
  if (model) files.set('tokenizer.model', model.bytes);
  return files;
}

/**
 * The checkpoint's tokenizer.json, else its SentencePiece tokenizer.model as the tokenizer.json a load makes of it
 * (`prependNormalizer` for the checkpoints whose eval loads a fast tokenizer: LlavaSettings.fastTokenizer).
 */
async function tokenizerJson(checkpoint: CheckpointFiles, config: Json, prependNormalizer: boolean): Promise<JsonFile> {
  const file = await optionalJson(checkpoint, 'tokenizer.json');
  if (file) return file;
  return { ...(await sentencePieceTokenizerJson(checkpoint, config, { prependNormalizer })), floats: new Set() };
}

/** A JSON file's object and name, and the keys it writes floats under (json_text.ts). */
interface JsonFile {
  json: Json;
  name: string;
  floats: Set<string>;
}

async function jsonFile(file: ByteSource): Promise<JsonFile> {
  return { json: await readJson(file), name: file.name, floats: floatKeys(await readText(file)) };
}

async function optionalJson(checkpoint: CheckpointFiles, name: string): Promise<JsonFile | null> {
  const file = await checkpoint.optionalFile(name);
  return file ? jsonFile(file) : null;
}

async function readAll(checkpoint: CheckpointFiles, name: string): Promise<{ bytes: Uint8Array; name: string } | null> {
  const file = await checkpoint.optionalFile(name);
  if (!file) return null;
  try {
    return { bytes: await file.read(0, await file.size()), name: file.name };
  } finally {
    await file.close();
  }
}
