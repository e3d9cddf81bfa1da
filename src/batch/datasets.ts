/**
 * Datasets as item lists: JSONL and CSV files of items (items.ts), the ViP-Bench layout (`bbox/` and `human/`,
 * each with `questions.jsonl` and `images/`, and `vip-bench-meta-data.json` with the ground truths), and the
 * shipped synthetic held-out split (`heldout/items.json`). Image paths become absolute, so workers on other
 * machines that share the folder read the same files.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { checkItem, checkUnique, type BatchItem } from './items.js';

export type DatasetFormat = 'jsonl' | 'csv' | 'vipbench' | 'heldout';
export const FORMATS: readonly DatasetFormat[] = ['jsonl', 'csv', 'vipbench', 'heldout'];

export interface DatasetOptions {
  format?: DatasetFormat;
  /** ViP-Bench: which prompts, the synthesised boxes or the human drawings. */
  split?: 'bbox' | 'human';
}

/** What a path holds: a .jsonl/.csv file, a ViP-Bench folder or the synthetic data folder. */
export function detectFormat(path: string): DatasetFormat {
  if (!existsSync(path)) throw new Error(`no dataset at ${path}`);
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, 'vip-bench-meta-data.json')) || existsSync(join(path, 'bbox', 'questions.jsonl'))) return 'vipbench';
    if (existsSync(join(path, 'heldout', 'items.json'))) return 'heldout';
    throw new Error(`${path} is a folder but neither ViP-Bench (bbox/questions.jsonl) nor the synthetic split (heldout/items.json); give a .jsonl or .csv file`);
  }
  if (/\.jsonl$/i.test(path)) return 'jsonl';
  if (/\.csv$/i.test(path)) return 'csv';
  throw new Error(`${path}: a dataset file ends in .jsonl or .csv (or pass --format)`);
}

export function readDataset(path: string, o: DatasetOptions = {}): BatchItem[] {
  const format = o.format ?? detectFormat(path);
  const items = format === 'jsonl' ? readJsonl(path) : format === 'csv' ? readCsv(path) : format === 'vipbench' ? readVipBench(path, o.split ?? 'bbox') : readHeldout(path);
  return checkUnique(items, path);
}

const absolute = (image: string, base: string) => (/^(https?|data|file):/i.test(image) || isAbsolute(image) ? image : resolve(base, image));

function readJsonl(path: string): BatchItem[] {
  const base = dirname(resolve(path));
  return readFileSync(path, 'utf8')
    .split('\n')
    .flatMap((line, i) => {
      if (line.trim() === '') return [];
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch (e) {
        throw new Error(`${path} line ${i + 1}: not JSON (${(e as Error).message})`);
      }
      const item = checkItem(raw, `${path} line ${i + 1}`);
      return [{ ...item, image: absolute(item.image, base) }];
    });
}

/** CSV with a header: id, image, question, and optionally visual_prompts (JSON), expected. */
function readCsv(path: string): BatchItem[] {
  const base = dirname(resolve(path));
  let rows: Record<string, string>[];
  try {
    rows = parse(readFileSync(path, 'utf8'), { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  return rows.map((row, i) => {
    const where = `${path} row ${i + 2}`;
    let prompts: unknown;
    if (row.visual_prompts) {
      try {
        prompts = JSON.parse(row.visual_prompts);
      } catch {
        throw new Error(`${where}: the visual_prompts cell is not JSON`);
      }
    }
    const item = checkItem({ id: row.id, image: row.image, question: row.question, visual_prompts: prompts, expected: row.expected || undefined }, where);
    return { ...item, image: absolute(item.image, base) };
  });
}

/**
 * ViP-Bench: `<split>/questions.jsonl` lines { question_id, image, text } over pre-rendered `<split>/images/`
 * (the prompts are in the pixels); ids are the official `v1_<question_id>`; the meta-data's answer and capability
 * ride along for grading.
 */
function readVipBench(dir: string, split: 'bbox' | 'human'): BatchItem[] {
  const questions = join(dir, split, 'questions.jsonl');
  if (!existsSync(questions)) throw new Error(`no ViP-Bench ${split} split at ${questions}`);
  const metaPath = join(dir, 'vip-bench-meta-data.json');
  const meta = existsSync(metaPath) ? (JSON.parse(readFileSync(metaPath, 'utf8')) as Record<string, { answer?: string; capability?: string[]; question?: string }>) : {};
  return readFileSync(questions, 'utf8')
    .split('\n')
    .flatMap((line, i) => {
      if (line.trim() === '') return [];
      const where = `${questions} line ${i + 1}`;
      let q: { question_id?: unknown; image?: unknown; text?: unknown };
      try {
        q = JSON.parse(line) as typeof q;
      } catch {
        throw new Error(`${where}: not JSON`);
      }
      if ((typeof q.question_id !== 'string' && typeof q.question_id !== 'number') || typeof q.image !== 'string' || typeof q.text !== 'string') {
        throw new Error(`${where}: a ViP-Bench question has question_id, image and text`);
      }
      const id = `v1_${q.question_id}`;
      const m = meta[id];
      return [{ id, image: join(resolve(dir), split, 'images', q.image), question: q.text, expected: m?.answer, meta: { capability: m?.capability ?? [], meta_question: m?.question } }];
    });
}

/** The synthetic held-out split (data/synthetic): exact plans, their ink, the truth and the question type. */
function readHeldout(dir: string): BatchItem[] {
  const path = join(dir, 'heldout', 'items.json');
  const { items } = JSON.parse(readFileSync(path, 'utf8')) as { items: Array<{ image: string; plan: BatchItem['plan']; rgba: [number, number, number, number]; question: string; answer: string; type: string; prompt_shape: string }> };
  return items.map((it, i) => ({
    id: String(i),
    image: join(resolve(dir), 'heldout', it.image),
    question: it.question,
    plan: it.plan,
    plan_rgba: it.rgba,
    expected: it.answer,
    meta: { type: it.type, prompt_shape: it.prompt_shape },
  }));
}
