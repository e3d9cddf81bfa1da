/** Paths of the committed fixtures and readers for the goldens transformers wrote (tools/make_fixtures.py). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import '../../src/runtime.node.js'; // tests run in Node: folders, the hub cache, sharp and the native engine
import { SafetensorsFile } from '../../src/weights/safetensors.js';
import { FileSource } from '../../src/io/file_source.node.js';
import type { Tensor } from '../../src/tensor/tensor.js';

/** Repository root (this file runs from dist/tests/helpers/). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FIXTURES = join(ROOT, 'tests', 'fixtures');
export const TINY_LLAMA = join(FIXTURES, 'tiny-llama');
export const TINY_MISTRAL = join(FIXTURES, 'tiny-mistral');
export const VARIANTS = [
  { name: 'tiny-llama', dir: TINY_LLAMA },
  { name: 'tiny-mistral', dir: TINY_MISTRAL },
] as const;

export interface GenerateCase {
  input_ids: number[] | number[][];
  attention_mask?: number[][];
  images: number[];
  output: number[] | number[][];
}

export interface GoldenMeta {
  name: string;
  image_tokens: number;
  single: { input_ids: number[]; logit_positions: number[]; labels: number[]; loss: number };
  batch: { input_ids: number[][]; attention_mask: number[][] };
  generate: Record<'single' | 'batch' | 'two_images' | 'text_only' | 'text_long', GenerateCase>;
  mismatch_error: string;
}

export async function loadGoldens(name: string): Promise<{ meta: GoldenMeta; tensors: Map<string, Tensor> }> {
  const meta = JSON.parse(readFileSync(join(FIXTURES, 'goldens', `${name}.json`), 'utf8')) as GoldenMeta;
  const file = await SafetensorsFile.open(new FileSource(join(FIXTURES, 'goldens', `${name}.safetensors`)));
  const tensors = new Map<string, Tensor>();
  for (const key of file.entries.keys()) tensors.set(key, await file.read(key));
  await file.close();
  return { meta, tensors };
}

export function readJsonFixture<T>(...parts: string[]): T {
  return JSON.parse(readFileSync(join(FIXTURES, ...parts), 'utf8')) as T;
}
