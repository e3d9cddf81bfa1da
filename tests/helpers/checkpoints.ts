/** Test-only: rewrites the tiny fixture checkpoint in other key layouts, dtypes and shardings. */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile } from '../../src/weights/safetensors.js';
import { FileSource } from '../../src/io/file_source.node.js';
import { float32ToBfloat16 } from '../../src/tensor/float16.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { encodeSafetensors, type RawTensor } from './safetensors_writer.js';

export async function readAllTensors(dir: string): Promise<Map<string, Tensor>> {
  const out = new Map<string, Tensor>();
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort()) {
    const f = await SafetensorsFile.open(new FileSource(join(dir, name)));
    for (const key of f.entries.keys()) out.set(key, await f.read(key));
    await f.close();
  }
  return out;
}

export function toRaw(t: Tensor, dtype: 'F32' | 'F16' | 'BF16'): RawTensor {
  const shape = [...t.dims];
  if (dtype === 'F16' && t.dtype === 'float16') return { dtype, shape, bytes: new Uint8Array((t.data as Uint16Array).slice().buffer) };
  const values = t.toFloat32();
  if (dtype === 'F32') return { dtype, shape, bytes: new Uint8Array(values.slice().buffer) };
  if (dtype === 'BF16') return { dtype, shape, bytes: new Uint8Array(Uint16Array.from(values, float32ToBfloat16).buffer) };
  throw new Error(`cannot convert ${t.dtype} to ${dtype}`);
}

const made: string[] = [];
process.on('exit', () => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A fresh folder under the OS temp dir, removed when the test process exits. */
export function tempDir(prefix: string): string {
  made.push(mkdtempSync(join(tmpdir(), `vipllava-${prefix}-`)));
  return made[made.length - 1];
}

/** Writes `tensors` as `shards` files (+ index when > 1) and copies config.json / generation_config.json from `from`. */
export function writeCheckpoint(dir: string, tensors: Record<string, RawTensor>, { shards = 1, from }: { shards?: number; from: string }): string {
  mkdirSync(dir, { recursive: true });
  for (const f of ['config.json', 'generation_config.json']) {
    try {
      copyFileSync(join(from, f), join(dir, f));
    } catch {
      // optional
    }
  }
  const names = Object.keys(tensors);
  if (shards === 1) {
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
    return dir;
  }
  const per = Math.ceil(names.length / shards);
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part: Record<string, RawTensor> = {};
    for (const n of names.slice(s * per, (s + 1) * per)) {
      part[n] = tensors[n];
      weightMap[n] = file;
    }
    writeFileSync(join(dir, file), encodeSafetensors(part));
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return dir;
}
