/**
 * One dataset item: an id, an image (a file path, resolved against the dataset's folder, an http(s) URL or a
 * data URL), the question, and the visual prompts to draw on the image, in the spec the CLI and the server take
 * ({ shape, box | polygons | point, color?, alpha?, width? }, drawn with { seed, style }). An exact drawing plan
 * (the synthetic split's) may stand in for the prompts. `expected` (a ground truth) and `meta` ride along.
 */
import type { Plan, VisualPrompt } from '../index.node.js';

export interface BatchItem {
  id: string;
  image: string;
  question: string;
  visual_prompts?: VisualPrompt[];
  visual_prompt_options?: { seed?: number; style?: 'eval' | 'random' };
  /** An exact plan drawn in this ink instead of visual_prompts (the synthetic held-out split). */
  plan?: Plan;
  plan_rgba?: [number, number, number, number];
  expected?: string;
  meta?: Record<string, unknown>;
}

/** What the results file holds per item: the answer, or why there is none. */
export type BatchResult =
  | { id: string; answer: string; finish_reason: string; prompt_tokens: number; completion_tokens: number }
  | { id: string; error: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * An item checked field by field; `where` names it in errors ("data.jsonl line 7"). Ids are strings (numbers are
 * taken as their decimal text). Visual prompts are checked when drawn, so a bad one fails only its item.
 */
export function checkItem(raw: unknown, where: string): BatchItem {
  if (!isObject(raw)) throw new Error(`${where}: an item is a JSON object, got ${Array.isArray(raw) ? 'an array' : typeof raw}`);
  const id = typeof raw.id === 'number' && Number.isFinite(raw.id) ? String(raw.id) : raw.id;
  if (typeof id !== 'string' || id === '') throw new Error(`${where}: "id" must be a non-empty string or a number`);
  for (const field of ['image', 'question'] as const) {
    if (typeof raw[field] !== 'string' || raw[field] === '') throw new Error(`${where} (id ${id}): "${field}" must be a non-empty string`);
  }
  if (raw.visual_prompts !== undefined && !Array.isArray(raw.visual_prompts)) throw new Error(`${where} (id ${id}): "visual_prompts" must be an array`);
  if (raw.visual_prompt_options !== undefined && !isObject(raw.visual_prompt_options)) throw new Error(`${where} (id ${id}): "visual_prompt_options" must be an object`);
  if (raw.expected !== undefined && typeof raw.expected !== 'string') throw new Error(`${where} (id ${id}): "expected" must be a string`);
  return { ...(raw as unknown as BatchItem), id };
}

/** The items with duplicate ids refused (the results file is keyed by id). */
export function checkUnique(items: BatchItem[], source: string): BatchItem[] {
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.id)) throw new Error(`${source}: the id "${item.id}" appears twice; ids must be unique`);
    seen.add(item.id);
  }
  return items;
}
