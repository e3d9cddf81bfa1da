/** Readers for tests/fixtures/goldens/processor (written by tools/make_processor_fixtures.py). */
import { join } from 'node:path';
import { SafetensorsFile } from '../../src/weights/safetensors.js';
import { FileSource } from '../../src/io/file_source.node.js';
import { FIXTURES, readJsonFixture } from './fixtures.js';

export const IMAGES = join(FIXTURES, 'images');
export const image = (name: string) => join(IMAGES, name);

export async function openGolden(file: 'crops336' | 'pixels56'): Promise<SafetensorsFile> {
  return SafetensorsFile.open(new FileSource(join(FIXTURES, 'goldens', 'processor', `${file}.safetensors`)));
}

export const imageMeta = () => readJsonFixture<{ images: Record<string, { size: [number, number]; mode: string }>; mean_rgb: number[] }>('goldens', 'processor', 'images.json');

export interface TokenizerGolden {
  cases: Array<{ text: string; ids: number[]; tokens: string[]; no_special_ids: number[]; decoded: string; decoded_skip: string }>;
  batch: { texts: string[]; left: { input_ids: number[][]; attention_mask: number[][] }; right: { input_ids: number[][]; attention_mask: number[][] } };
  decode: Array<{ ids: number[]; decoded: string; decoded_skip: string }>;
}
export const tokenizerGoldens = () => readJsonFixture<Record<string, TokenizerGolden>>('goldens', 'processor', 'tokenizer.json');

/** tiny-phi3's and tiny-llama3's tokenizers (tools/make_backbone_fixtures.py), with the special ids transformers reads. */
export interface BackboneTokenizerGolden extends TokenizerGolden {
  special: { bos: number | null; eos: number | null; pad: number | null; unk: number | null; image: number; vocab_size: number };
}
export const backboneTokenizerGoldens = () => readJsonFixture<Record<string, BackboneTokenizerGolden>>('goldens', 'processor', 'backbone_tokenizers.json');

export interface ProcessorCase { text: string | string[]; images: string[]; input_ids: number[][]; attention_mask: number[][]; pixel_values_shape: number[] }
export const processorGoldens = () =>
  readJsonFixture<{ templates: Record<string, Record<string, { generation: string; no_generation: string }>>; processor: Record<string, { single: ProcessorCase; batch: ProcessorCase }> }>('goldens', 'processor', 'processor.json');

export const generateGoldens = () =>
  readJsonFixture<Record<string, { image: string; prompt: string; input_ids: number[]; new_ids: number[]; answer: string }>>('goldens', 'processor', 'generate.json');

/** The conversations the goldens rendered (tools/make_processor_fixtures.py CONVERSATIONS). */
export const CONVERSATIONS = {
  single: [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is shown in this image?' }] }],
  seed_doc: [
    { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What’s shown in this image?' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'This image shows a red stop sign.' }] },
    { role: 'user', content: [{ type: 'text', text: 'Describe the image in more details.' }] },
  ],
  system: [
    { role: 'system', content: [{ type: 'text', text: 'A chat between a curious human and an artificial intelligence assistant.' }] },
    { role: 'user', content: [{ type: 'text', text: 'Hi' }, { type: 'image' }] },
  ],
  two_images: [{ role: 'user', content: [{ type: 'text', text: 'Compare ' }, { type: 'image' }, { type: 'text', text: 'these.' }, { type: 'image' }] }],
} as const;
