/**
 * Evaluation on the synthetic task's held-out split (data/synthetic): each item is a clean scene, the plan of
 * the visual prompt to draw on it, a question and its answer. The prompt is drawn with this library's
 * renderer, the question goes through the checkpoint's chat template, and the model answers greedily — the
 * same steps tools/make_synthetic_goldens.py runs in transformers, whose answers sit beside the split.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ItemAnswerer } from '../batch/answer.js';
import { readDataset } from '../batch/datasets.js';
import { runItems } from '../batch/run.js';
import { drawPlan, InputError, loadImage, type Plan, type RgbImage, type VipLlavaForConditionalGeneration, type VipLlavaProcessor } from '../index.node.js';

export interface HeldoutItem {
  image: string;
  plan: Plan;
  rgba: [number, number, number, number];
  question: string;
  answer: string;
  type: string;
  prompt_shape: string;
}

export interface HeldoutSplit {
  items: HeldoutItem[];
  /** transformers' answers to the same items, when the split carries them. */
  reference: { answers: string[]; transformers: string; max_new_tokens: number; drawn_sha256: string[] } | null;
}

/** Greedy answers are short phrases; this many new tokens is enough (transformers' goldens use the same). */
export const MAX_ANSWER_TOKENS = 5;

export function loadHeldout(dataDir: string): HeldoutSplit {
  const itemsPath = join(dataDir, 'heldout', 'items.json');
  if (!existsSync(itemsPath)) throw new InputError(`no held-out split at ${itemsPath}`);
  const items = (JSON.parse(readFileSync(itemsPath, 'utf8')) as { items: HeldoutItem[] }).items;
  const refPath = join(dataDir, 'transformers_answers.json');
  const reference = existsSync(refPath) ? (JSON.parse(readFileSync(refPath, 'utf8')) as HeldoutSplit['reference']) : null;
  if (reference && reference.answers.length !== items.length) {
    throw new InputError(`${refPath} has ${reference.answers.length} answers for ${items.length} held-out items`);
  }
  return { items, reference };
}

/** The item's scene with its visual prompt drawn. */
export async function promptedScene(dataDir: string, item: HeldoutItem) {
  const scene = await loadImage(join(dataDir, 'heldout', item.image));
  return drawPlan(scene, item.plan, item.rgba);
}

type QuestionInputs = Awaited<ReturnType<VipLlavaProcessor['process']>>;

/** The model inputs for one question about one image, in the checkpoint's chat template. */
export async function questionInputs(processor: VipLlavaProcessor, image: RgbImage, question: string): Promise<QuestionInputs> {
  const prompt = processor.applyChatTemplate([{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: question }] }], { addGenerationPrompt: true });
  return processor.process({ text: prompt, images: [image] });
}

/** The greedy answer to prepared inputs, trimmed. */
export async function answerInputs(model: VipLlavaForConditionalGeneration, processor: VipLlavaProcessor, inputs: QuestionInputs): Promise<string> {
  const sequences = await model.generate({ ...inputs, maxNewTokens: MAX_ANSWER_TOKENS, doSample: false, numBeams: 1 });
  const newIds = (sequences.tolist() as number[][])[0].slice(inputs.inputIds.dims[1]);
  return processor.tokenizer.decode(newIds, { skipSpecialTokens: true }).trim();
}

/** One question about one image, answered greedily; returns the answer text, trimmed. */
export async function answer(model: VipLlavaForConditionalGeneration, processor: VipLlavaProcessor, image: RgbImage, question: string): Promise<string> {
  return answerInputs(model, processor, await questionInputs(processor, image, question));
}

export interface ItemResult {
  index: number;
  item: HeldoutItem;
  answer: string;
  correct: boolean;
  /** transformers' answer, when known. */
  reference?: string;
}

/**
 * Answers items [0, limit) through the batch machinery (src/batch: the split as items, `batchSize` decoded
 * together, each the answer it gets alone), reporting each in order as it finishes.
 */
export async function evaluateHeldout(
  model: VipLlavaForConditionalGeneration,
  processor: VipLlavaProcessor,
  dataDir: string,
  { limit, batchSize = 1, onItem }: { limit?: number; batchSize?: number; onItem?: (r: ItemResult) => void } = {},
): Promise<ItemResult[]> {
  const { items, reference } = loadHeldout(dataDir);
  const n = Math.min(limit ?? items.length, items.length);
  const batchItems = readDataset(dataDir, { format: 'heldout' }).slice(0, n);
  const results: ItemResult[] = [];
  const answerer = new ItemAnswerer(model, processor, { batchSize });
  const settings = { generation: { maxNewTokens: MAX_ANSWER_TOKENS, doSample: false, numBeams: 1 } };
  await runItems(batchItems, answerer, settings, (out) => {
    if ('error' in out) throw new InputError(`held-out item ${out.id}: ${out.error}`);
    const index = results.length;
    const item = items[index];
    const r: ItemResult = { index, item, answer: out.answer, correct: out.answer === item.answer, reference: reference?.answers[index] };
    results.push(r);
    onItem?.(r);
  });
  return results;
}

export interface AccuracyRow {
  group: string;
  items: number;
  /** Fraction right in our engine. */
  ours: number;
  /** Fraction right in transformers, on the same items. */
  transformers: number | null;
  /** Fraction of items where both engines gave the same answer. */
  agreement: number | null;
}

/** Accuracy overall, per question type and per prompt shape, next to transformers' on the same items. */
export function accuracyTable(results: ItemResult[]): AccuracyRow[] {
  const groups = new Map<string, ItemResult[]>([['all', results]]);
  const add = (key: string, r: ItemResult) => groups.set(key, [...(groups.get(key) ?? []), r]);
  for (const r of [...results].sort((a, b) => a.item.type.localeCompare(b.item.type))) add(`type: ${r.item.type}`, r);
  for (const r of [...results].sort((a, b) => a.item.prompt_shape.localeCompare(b.item.prompt_shape))) add(`prompt: ${r.item.prompt_shape}`, r);
  const known = results.every((r) => r.reference !== undefined);
  const frac = (rs: ItemResult[], f: (r: ItemResult) => boolean) => rs.filter(f).length / rs.length;
  return [...groups].map(([group, rs]) => ({
    group,
    items: rs.length,
    ours: frac(rs, (r) => r.correct),
    transformers: known ? frac(rs, (r) => r.reference === r.item.answer) : null,
    agreement: known ? frac(rs, (r) => r.reference === r.answer) : null,
  }));
}
