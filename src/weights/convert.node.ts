/**
 * `convertCheckpoint`: any checkpoint this library reads (safetensors in any key layout, PyTorch .bin shards)
 * written as the hub's safetensors layout — keys as llava-hf/vip-llava-*-hf has them, tensors in their stored
 * dtypes, shards of at most `maxShardBytes` with model.safetensors.index.json — next to the checkpoint's other
 * files (config, tokenizer, processor, template). Tensors stream from the source one at a time; buffers and
 * unused tensors (position_ids, CLIP's post_layernorm) are left out, as a load skips them.
 */
import { closeSync, copyFileSync, mkdirSync, openSync, readdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { WeightsError } from '../errors.js';
import { openCheckpoint, type ResolveOptions } from '../io/checkpoint.js';
import { canonicalKey, hubKey, UNUSED } from './key_map.js';
import { weightFiles } from './load.js';
import { SafetensorsFile, type SafetensorsEntry } from './safetensors.js';

/** Files a load reads besides the weights. */
const SIDE_FILES = /^(config|generation_config|tokenizer|tokenizer_config|special_tokens_map|added_tokens|chat_template|preprocessor_config|processor_config)\.json$|^chat_template\.jinja$|^tokenizer\.model$/;

export interface ConvertOptions extends ResolveOptions {
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
  const files: SafetensorsFile[] = [];
  try {
    for (const f of await weightFiles(checkpoint)) files.push(await SafetensorsFile.open(f));
    // every tensor a load uses, under its hub key, in the source's order
    const plan: Array<{ file: SafetensorsFile; entry: SafetensorsEntry; key: string }> = [];
    const seen = new Map<string, string>();
    for (const file of files) {
      for (const entry of file.entries.values()) {
        const canonical = canonicalKey(entry.name);
        if (canonical === null || UNUSED.test(canonical)) continue;
        const key = hubKey(canonical);
        if (seen.has(key)) throw new WeightsError(`${file.path}: tensor "${entry.name}" duplicates "${seen.get(key)}" (both are ${key})`);
        seen.set(key, entry.name);
        plan.push({ file, entry, key });
      }
    }
    const limit = o.maxShardBytes ?? 5e9;
    const groups: (typeof plan)[] = [[]];
    let size = 0;
    for (const p of plan) {
      const bytes = p.entry.end - p.entry.begin;
      if (size > 0 && size + bytes > limit) (groups.push([]), (size = 0));
      groups.at(-1)!.push(p);
      size += bytes;
    }
    mkdirSync(outDir, { recursive: true });
    const names = groups.length === 1 ? ['model.safetensors'] : groups.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(groups.length).padStart(5, '0')}.safetensors`);
    const weightMap: Record<string, string> = {};
    let total = 0;
    for (const [i, group] of groups.entries()) {
      total += await writeShard(join(outDir, names[i]), group);
      for (const p of group) weightMap[p.key] = names[i];
    }
    if (groups.length > 1) writeFileSync(join(outDir, 'model.safetensors.index.json'), `${JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2)}\n`);
    if (checkpoint.directory) {
      for (const f of readdirSync(checkpoint.directory)) if (SIDE_FILES.test(f) && statSync(join(checkpoint.directory, f)).isFile()) copyFileSync(join(checkpoint.directory, f), join(outDir, f));
    } else {
      for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.json', 'preprocessor_config.json', 'processor_config.json']) {
        const src = await checkpoint.optionalFile(f);
        if (src) writeFileSync(join(outDir, f), await src.read(0, await src.size()));
      }
    }
    return { tensors: plan.length, shards: names, bytes: total };
  } finally {
    await Promise.all(files.map((f) => f.close()));
  }
}

/** One safetensors file: the header (padded to 8 bytes), then each tensor's bytes as read from its source. */
async function writeShard(path: string, group: Array<{ file: SafetensorsFile; entry: SafetensorsEntry; key: string }>): Promise<number> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const { entry, key } of group) {
    const bytes = entry.end - entry.begin;
    header[key] = { dtype: entry.dtype, shape: entry.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const fd = openSync(path, 'w');
  try {
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    writeAll(fd, length);
    writeAll(fd, Buffer.from(json));
    for (const { file, entry } of group) writeAll(fd, await file.readBytes(entry.name));
  } finally {
    closeSync(fd);
  }
  return offset;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
}
