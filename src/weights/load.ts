/**
 * Loads a checkpoint's tensors into a module tree, shard by shard and tensor by tensor: each tensor is read
 * into its own buffer (or one reused buffer, for engines that copy) and handed to the engine, so the weights
 * are never held twice. Each parameter's format is resolved once (formats.ts); an engine that repacks may keep
 * its repacked weights in a PackedCache for the next load.
 */
import type { Backend, DeviceTensor } from '../backend/backend.js';
import { WeightsError } from '../errors.js';
import type { ByteSource } from '../io/byte_source.js';
import { readJson, type CheckpointFiles } from '../io/checkpoint.js';
import type { OnProgress } from '../io/progress.js';
import type { Parameter } from '../models/modules.js';
import type { Activation, WeightDtype, WeightFormat } from '../vocabulary.js';
import { weightFormat } from './formats.js';
import { canonicalKey, UNUSED } from './key_map.js';
import { warn } from '../platform.js';
import type { PackedCache } from './packed_cache.js';
import { baseName, SafetensorsFile, type SafetensorsEntry } from './safetensors.js';

export interface LoadWeightsOptions {
  dtype?: WeightDtype;
  quantizeVision?: boolean;
  onProgress?: OnProgress;
  /** Where repacked weights are kept between loads (none: they are made at every load). */
  packedCache?: PackedCache | null;
  /** The model's activations, for the engine's check. */
  activations?: readonly Activation[];
  /** Canonical names of tensors the model leaves unread on purpose (VipLlavaModel's lm_head): skipped without a warning. */
  ignored?: RegExp;
}

/** The weight files of a checkpoint: the shards its index names, or model.safetensors. */
export async function weightFiles(checkpoint: CheckpointFiles): Promise<ByteSource[]> {
  // safetensors first, as transformers prefers them; else PyTorch .bin shards (read without running their pickles)
  for (const [indexName, singleName] of [['model.safetensors.index.json', 'model.safetensors'], ['pytorch_model.bin.index.json', 'pytorch_model.bin']]) {
    const index = await checkpoint.optionalFile(indexName);
    if (index) {
      const json = await readJson(index);
      const map = json.weight_map;
      if (typeof map !== 'object' || map === null || Array.isArray(map)) {
        throw new WeightsError(`${index.name}: has no "weight_map" object`);
      }
      const shards = [...new Set(Object.values(map as Record<string, unknown>))];
      if (!shards.every((s): s is string => typeof s === 'string' && !s.includes('..'))) {
        throw new WeightsError(`${index.name}: weight_map holds an invalid shard name`);
      }
      const files: ByteSource[] = [];
      for (const shard of shards) files.push(await checkpoint.file(shard));
      return files;
    }
    const single = await checkpoint.optionalFile(singleName);
    if (single) return [single];
  }
  throw new WeightsError(`${checkpoint.description} has no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json`);
}

/** One checkpoint tensor matched to its parameter, with the format it loads in. */
interface Planned {
  entry: SafetensorsEntry;
  param: Parameter;
  format: WeightFormat;
}

/**
 * The parameters of one shard with their formats. Tensors that map to no parameter (CLIP's post_layernorm,
 * buffers) are skipped; a shape that differs from the config's or a duplicate is an error naming it.
 */
function planShard(file: SafetensorsFile, params: Map<string, Parameter>, source: Map<string, string>, o: LoadWeightsOptions, unused: string[]): Planned[] {
  const name = baseName(file.path);
  const planned: Planned[] = [];
  for (const entry of file.entries.values()) {
    const key = canonicalKey(entry.name);
    const param = key === null ? undefined : params.get(key);
    if (key !== null && !param && !UNUSED.test(key) && !o.ignored?.test(key)) unused.push(entry.name);
    if (!param || key === null) continue;
    if (source.has(key)) throw new WeightsError(`${name}: tensor "${entry.name}" duplicates "${source.get(key)}" (both are ${key})`);
    const want = param.shape.join(', ');
    if (entry.shape.join(', ') !== want) {
      throw new WeightsError(`${name}: tensor "${entry.name}" has shape [${entry.shape.join(', ')}] but the config implies [${want}]`);
    }
    const stored = file.weightDtype(entry);
    source.set(key, entry.name);
    planned.push({ entry, param, format: weightFormat(o.dtype ?? 'auto', stored, param, o.quantizeVision ?? false) });
  }
  return planned;
}

/**
 * Fills every parameter from the files, after the engine has seen every parameter's shape and format
 * (`check()`), so what it cannot run is refused before a byte of weights is read. A missing tensor is an
 * error naming it.
 */
export async function loadWeights(files: readonly ByteSource[], params: Map<string, Parameter>, backend: Backend, describe: string, o: LoadWeightsOptions = {}): Promise<void> {
  const opened: SafetensorsFile[] = [];
  try {
    for (const f of files) opened.push(await SafetensorsFile.open(f));
    const source = new Map<string, string>();
    const unused: string[] = [];
    const plans = opened.map((file) => planShard(file, params, source, o, unused));
    if (unused.length > 0) warn(`the checkpoint at ${describe} has tensors VipLlava does not use, which are skipped: ${firstOf(unused)}`, 'VIPLLAVA_UNUSED_WEIGHTS');
    const missing = [...params.keys()].filter((key) => !source.has(key));
    if (missing.length > 0) throw new WeightsError(`missing tensor ${firstOf(missing)} in the checkpoint at ${describe}`);
    backend.check({
      parameters: plans.flat().map((p) => ({ name: p.entry.name, shape: p.param.shape, format: p.format })),
      activations: o.activations ?? [],
    });
    // The packed-cache key: the load options and how the engine lays out the load's compute format now (the
    // kernel set decides, e.g. bf16 products or fp32 compute from bf16).
    const layout = o.packedCache && o.dtype ? backend.packedLayout?.(weightFormat(o.dtype, 'float16', { linear: true, quantize: 'always' }, false)) : null;
    const packed = layout ? { cache: o.packedCache!, key: `${o.dtype}${o.quantizeVision ? '+vision' : ''}, ${layout}` } : null;
    const sizes = await Promise.all(files.map((f) => f.size()));
    const total = sizes.reduce((a, b) => a + b, 0);
    // An engine that copies on upload lets one buffer, grown to the largest tensor, serve every read.
    let scratch = backend.copiesOnUpload ? new ArrayBuffer(0) : undefined;
    const grow = (bytes: number) => {
      if (scratch && scratch.byteLength < bytes) scratch = new ArrayBuffer(bytes);
      return scratch;
    };
    let before = 0; // bytes of the shards already read
    for (const [i, file] of opened.entries()) {
      await loadShard(file, plans[i], backend, packed, grow, (loaded) => o.onProgress?.({ stage: 'load', file: baseName(file.path), loaded: before + loaded, total }));
      before += sizes[i];
      o.onProgress?.({ stage: 'load', file: baseName(file.path), loaded: before, total });
    }
  } finally {
    await Promise.all(opened.map((f) => f.close()));
  }
}

/** `"first" (and N more)` for a message. */
const firstOf = (names: readonly string[]) => `"${names[0]}"${names.length > 1 ? ` (and ${names.length - 1} more)` : ''}`;

/** One shard's tensors onto the engine, from the packed cache when it holds them; every weight the engine repacked is saved there. */
async function loadShard(
  file: SafetensorsFile,
  plan: Planned[],
  backend: Backend,
  packed: { cache: PackedCache; key: string } | null,
  grow: (bytes: number) => ArrayBuffer | undefined,
  progress: (loaded: number) => void,
): Promise<void> {
  const cached = packed ? await packed.cache.open(file.source, packed.key) : null;
  const made: Array<[string, DeviceTensor]> = [];
  try {
    for (const { entry, param, format } of plan) {
      const hit = cached?.entries[entry.name];
      if (hit && backend.importPacked) {
        param.value = await backend.importPacked(hit, (into) => cached!.read(hit, into));
      } else {
        param.value = backend.upload(await file.read(entry.name, grow(entry.end - entry.begin)), format);
        if (packed && backend.packedEntry?.(param.value)) made.push([entry.name, param.value]);
      }
      progress(entry.end);
    }
  } finally {
    await cached?.close();
  }
  if (packed && !cached && made.length > 0) await packed.cache.save(file.source, packed.key, backend, made);
}
