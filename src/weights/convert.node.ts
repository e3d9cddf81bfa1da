/**
 * `convertCheckpoint`: any checkpoint this library reads (safetensors in any key layout, PyTorch .bin shards)
 * written as the hub's safetensors layout — keys as llava-hf/vip-llava-*-hf has them, tensors in their stored
 * dtypes, shards of at most `maxShardBytes` with model.safetensors.index.json — next to the checkpoint's other
 * files (config, tokenizer, processor, template). Tensors stream from the source one at a time; buffers and
 * what transformers' VipLlava has no parameter for (position_ids, a CLIPModel's text half) are left out.
 *
 * An original ViP-LLaVA checkpoint (mucai/vip-llava-*) becomes a complete llava-hf one, its vision tower's
 * weights included and its vocabulary grown by `<image>` and `<pad>` (convert_llava.node.ts).
 */
import { copyFileSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WeightsError } from '../errors.js';
import { openCheckpoint, type CheckpointFiles } from '../io/checkpoint.js';
import type { TowerOptions } from '../io/model_config.js';
import { extendVocabulary, llavaFiles, openLlava } from './convert_llava.node.js';
import { canonicalKey, hubKey, NOT_VIPLLAVA } from './key_map.js';
import { weightFiles } from './load.js';
import { SafetensorsFile } from './safetensors.js';
import { writeShards, type PlannedTensor } from './shard_writer.node.js';

/** Files a load reads besides the weights. */
const SIDE_FILES = /^(config|generation_config|tokenizer|tokenizer_config|special_tokens_map|added_tokens|chat_template|preprocessor_config|processor_config)\.json$|^chat_template\.jinja$|^tokenizer\.model$/;

export interface ConvertOptions extends TowerOptions {
  /** Bytes per shard at most (default 5 GB, transformers' default). */
  maxShardBytes?: number;
}

export interface ConvertResult {
  tensors: number;
  shards: string[];
  bytes: number;
}

export async function convertCheckpoint(source: string, outDir: string, o: ConvertOptions = {}): Promise<ConvertResult> {
  const checkpoint = openCheckpoint(source, o);
  const llava = await openLlava(checkpoint, o);
  const files: SafetensorsFile[] = [];
  try {
    for (const f of await weightFiles(checkpoint)) files.push(await SafetensorsFile.open(f));
    // the original format's vision tower is in the tower's own checkpoint
    if (llava) for (const f of await weightFiles(llava.tower)) files.push(await SafetensorsFile.open(f));
    let plan = planTensors(files);
    if (llava) plan = extendVocabulary(plan, llava.vocabulary);
    const sideFiles = llava ? await llavaFiles(checkpoint, llava) : null; // made first: what is wrong fails before a byte is written
    mkdirSync(outDir, { recursive: true });
    const { shards, bytes } = await writeShards(plan, outDir, o.maxShardBytes ?? 5e9);
    if (sideFiles) for (const [name, content] of sideFiles) writeFileSync(join(outDir, name), content);
    else await copySideFiles(checkpoint, outDir);
    return { tensors: plan.length, shards, bytes };
  } finally {
    await Promise.all(files.map((f) => f.close()));
  }
}

/** Every tensor transformers' VipLlava has, under its hub key, in the sources' order; a duplicate is an error naming both. */
function planTensors(files: readonly SafetensorsFile[]): PlannedTensor[] {
  const plan: PlannedTensor[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    for (const entry of file.entries.values()) {
      const canonical = canonicalKey(entry.name);
      if (canonical === null || NOT_VIPLLAVA.test(canonical)) continue;
      const key = hubKey(canonical);
      if (seen.has(key)) throw new WeightsError(`${file.path}: tensor "${entry.name}" duplicates "${seen.get(key)}" (both are ${key})`);
      seen.set(key, entry.name);
      plan.push({ key, dtype: entry.dtype, shape: entry.shape, bytes: entry.end - entry.begin, read: () => file.readBytes(entry.name) });
    }
  }
  return plan;
}

/** The checkpoint's other files, byte for byte. */
async function copySideFiles(checkpoint: CheckpointFiles, outDir: string): Promise<void> {
  if (checkpoint.directory) {
    for (const f of readdirSync(checkpoint.directory)) if (SIDE_FILES.test(f) && statSync(join(checkpoint.directory, f)).isFile()) copyFileSync(join(checkpoint.directory, f), join(outDir, f));
    return;
  }
  for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.json', 'preprocessor_config.json', 'processor_config.json']) {
    const src = await checkpoint.optionalFile(f);
    if (src) writeFileSync(join(outDir, f), await src.read(0, await src.size()));
  }
}
