/**
 * Loads a checkpoint's tensors into a module tree, shard by shard and tensor by tensor: each tensor is read
 * into its own buffer and handed to the backend, so the weights are never held twice.
 */
import { statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Backend, DeviceTensor, LinearFormat } from '../backend/backend.js';
import { WeightsError } from '../errors.js';
import type { Snapshot } from '../hub/resolve.js';
import type { OnProgress } from '../hub/progress.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Parameter } from '../models/modules.js';
import { canonicalKey } from './key_map.js';
import { SafetensorsFile } from './safetensors.js';
import { cachePath, isPackedStore, readCache, writeCache } from './packed_cache.js';
import { readJson } from '../config/fields.js';

/**
 * Weights at run time. 'auto' keeps the checkpoint's dtype; 'float32' / 'float16' convert storage (compute is
 * float32). 'bfloat16' stores bf16 and, on engines that have it, multiplies linear layers in bf16. 'q8_0' /
 * 'q4_0' quantise the language model's linear layers in 32-wide blocks (the vision tower and projector too
 * with `quantizeVision`), other weights staying as stored.
 */
export type WeightDtype = 'auto' | 'float32' | 'float16' | 'bfloat16' | 'q8_0' | 'q4_0';
export const WEIGHT_DTYPES: readonly WeightDtype[] = ['auto', 'float32', 'float16', 'bfloat16', 'q8_0', 'q4_0'];

/** The weight files of a checkpoint: the shards its index names, or model.safetensors. */
export async function weightFiles(snapshot: Snapshot): Promise<string[]> {
  const index = await snapshot.optionalFile('model.safetensors.index.json');
  if (index) {
    const json = await readJson(index);
    const map = json.weight_map;
    if (typeof map !== 'object' || map === null || Array.isArray(map)) {
      throw new WeightsError(`${index}: has no "weight_map" object`);
    }
    const shards = [...new Set(Object.values(map as Record<string, unknown>))];
    if (!shards.every((s): s is string => typeof s === 'string' && !s.includes('..'))) {
      throw new WeightsError(`${index}: weight_map holds an invalid shard name`);
    }
    const paths: string[] = [];
    for (const shard of shards) paths.push(await snapshot.file(shard));
    return paths;
  }
  const single = await snapshot.optionalFile('model.safetensors');
  if (single) return [single];
  const bin = await snapshot.optionalFile('pytorch_model.bin.index.json') ?? await snapshot.optionalFile('pytorch_model.bin');
  if (bin) throw new WeightsError(`${snapshot.description} has only PyTorch .bin weights; convert them to safetensors`);
  throw new WeightsError(`${snapshot.description} has no model.safetensors or model.safetensors.index.json`);
}

/** A weight in the storage `to` asks for (float32 is widened by the engine at upload). */
function convert(t: Tensor, to: WeightDtype): Tensor {
  return to === 'float16' || to === 'bfloat16' ? t.toHalf(to) : t;
}

let warnedCache = false;

/** The compute format of one linear weight under a load dtype. */
function linearFormat(key: string, dtype: WeightDtype, quantizeVision: boolean): LinearFormat {
  if (dtype === 'bfloat16') return 'bfloat16';
  if (dtype !== 'q8_0' && dtype !== 'q4_0') return 'auto';
  const language = key.startsWith('model.language_model.') || key.startsWith('lm_head.');
  return language || quantizeVision ? dtype : 'auto';
}

/**
 * Fills every parameter from the files. Tensors that map to no parameter (CLIP's post_layernorm, buffers)
 * are skipped; a shape that differs from the config's, a duplicate or a missing tensor is an error naming it.
 */
export async function loadWeights(
  files: readonly string[],
  params: Map<string, Parameter>,
  backend: Backend,
  { dtype = 'auto', quantizeVision = false, onProgress }: { dtype?: WeightDtype; quantizeVision?: boolean; onProgress?: OnProgress } = {},
): Promise<void> {
  const sizes = files.map((f) => statSync(f).size);
  const total = sizes.reduce((a, b) => a + b, 0);
  let filesDone = 0; // bytes of the shards already read
  // An engine that copies on upload lets one buffer, grown to the largest tensor, serve every read.
  let scratch = backend.copiesOnUpload ? new ArrayBuffer(0) : undefined;
  // Quantised or bf16 linear weights cost time to make: an engine that can keeps them on disk for next time.
  const store = isPackedStore(backend) && (dtype === 'q8_0' || dtype === 'q4_0' || dtype === 'bfloat16') ? backend : null;
  const options = store ? `${dtype}${quantizeVision ? '+vision' : ''}, ${store.layoutOf(dtype as LinearFormat)}` : '';
  const source = new Map<string, string>();
  for (const [i, path] of files.entries()) {
    const file = await SafetensorsFile.open(path);
    const cacheFile = store ? cachePath(path, options) : null;
    const cached = cacheFile ? readCache(cacheFile, path, options) : null;
    const packedHere: Array<[string, DeviceTensor]> = [];
    try {
      for (const entry of file.entries.values()) {
        const key = canonicalKey(entry.name);
        const param = key === null ? undefined : params.get(key);
        if (!param || key === null) continue;
        if (source.has(key)) {
          throw new WeightsError(`${basename(path)}: tensor "${entry.name}" duplicates "${source.get(key)}" (both are ${key})`);
        }
        const want = param.shape.join(', ');
        if (entry.shape.join(', ') !== want) {
          throw new WeightsError(`${basename(path)}: tensor "${entry.name}" has shape [${entry.shape.join(', ')}] but the config implies [${want}]`);
        }
        const hit = param.linear && cached?.[entry.name];
        if (store && hit) {
          param.value = store.loadPacked(cacheFile!, hit);
        } else {
          if (scratch && scratch.byteLength < entry.end - entry.begin) scratch = new ArrayBuffer(entry.end - entry.begin);
          const raw = await file.read(entry.name, scratch);
          const format = param.linear ? linearFormat(key, dtype, quantizeVision) : undefined;
          // Engines convert linear weights to their compute format themselves (bf16, blocks) at upload.
          const tensor = format !== undefined && format !== 'auto' ? raw : convert(raw, dtype);
          param.value = backend.upload(tensor, dtype !== 'float32', format);
          if (store && param.linear) packedHere.push([entry.name, param.value]);
        }
        source.set(key, entry.name);
        onProgress?.({ stage: 'load', file: basename(path), loaded: filesDone + entry.end, total });
      }
      if (store && cacheFile && !cached && packedHere.length > 0) {
        try {
          writeCache(store, cacheFile, path, options, packedHere);
        } catch (e) {
          if (!warnedCache) process.emitWarning(`could not write the packed-weight cache ${cacheFile}: ${(e as Error).message}`, { code: 'VIPLLAVA_CACHE' });
          warnedCache = true;
        }
      }
    } finally {
      await file.close();
    }
    filesDone += sizes[i];
    onProgress?.({ stage: 'load', file: basename(path), loaded: filesDone, total });
  }
  const missing = [...params.entries()].filter(([, p]) => !p.isLoaded).map(([k]) => k);
  if (missing.length > 0) {
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more)` : '';
    throw new WeightsError(`missing tensor "${missing[0]}"${more} in the checkpoint at ${dirname(files[0])}`);
  }
}
