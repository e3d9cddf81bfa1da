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
export const TINY_PHI3 = join(FIXTURES, 'tiny-phi3');
export const TINY_LLAMA3 = join(FIXTURES, 'tiny-llama3');
/**
 * The tiny checkpoints with goldens (tools/make_fixtures.py, tools/make_backbone_fixtures.py), one per text
 * backbone; `template` names the built-in chat template that equals the checkpoint's own.
 */
export const VARIANTS = [
  { name: 'tiny-llama', dir: TINY_LLAMA, template: 'hub' },
  { name: 'tiny-mistral', dir: TINY_MISTRAL, template: 'hub' },
  { name: 'tiny-phi3', dir: TINY_PHI3, template: 'llava_phi_3' },
  { name: 'tiny-llama3', dir: TINY_LLAMA3, template: 'llava_llama_3' },
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

/** One prompt of the original-format goldens (tools/make_llava_format_fixtures.py, make_llava_backbone_fixtures.py). */
export interface LlavaGoldenCase {
  image: string;
  question?: string;
  prompt: string;
  input_ids: number[];
  new_tokens?: number[];
  answer?: string;
}

export async function loadGoldens(name: string): Promise<{ meta: GoldenMeta; tensors: Map<string, Tensor> }> {
  const meta = JSON.parse(readFileSync(join(FIXTURES, 'goldens', `${name}.json`), 'utf8')) as GoldenMeta;
  return { meta, tensors: await loadGoldenTensors(`${name}.safetensors`) };
}

/** Every tensor of a goldens safetensors file (path parts below tests/fixtures/goldens/). */
export async function loadGoldenTensors(...parts: string[]): Promise<Map<string, Tensor>> {
  const file = await SafetensorsFile.open(new FileSource(join(FIXTURES, 'goldens', ...parts)));
  try {
    const tensors = new Map<string, Tensor>();
    for (const key of file.entries.keys()) tensors.set(key, await file.read(key));
    return tensors;
  } finally {
    await file.close();
  }
}

export function readJsonFixture<T>(...parts: string[]): T {
  return JSON.parse(readFileSync(join(FIXTURES, ...parts), 'utf8')) as T;
}
