/**
 * A dataset run on one machine: the items not yet in the results file, answered `batchSize` at a time by one
 * model (decoded together), each result appended in the dataset's order as soon as those before it are in.
 */
import type { ItemAnswerer, ItemSettings } from './answer.js';
import type { BatchItem, BatchResult } from './items.js';
import { Progress } from './progress.js';
import { InOrder, ResultsFile } from './results.js';

export interface RunSummary {
  items: number;
  /** Items this run answered (the rest were in the file already). */
  answered: number;
  skipped: number;
  failures: Array<{ id: string; error: string }>;
  seconds: number;
  /** Generated tokens per second over this run. */
  tokensPerSecond: number;
}

/** Answers the items missing from `out` (a ResultsFile, or a callback for in-memory runs), `answerer.options.batchSize` at a time. */
export async function runItems(items: BatchItem[], answerer: ItemAnswerer, settings: ItemSettings, out: ResultsFile | ((r: BatchResult) => void), progress?: Progress): Promise<RunSummary> {
  const file = out instanceof ResultsFile ? out : null;
  const todo = items.filter((it) => !file?.done.has(it.id));
  const started = Date.now();
  let tokens = 0;
  const failures: RunSummary['failures'] = [];
  const ordered = new InOrder((r) => (file ? file.write(r) : (out as (r: BatchResult) => void)(r)));
  let next = 0;
  // batchSize lanes, each taking the next item when its last one ends: the batcher decodes them together
  const lane = async () => {
    for (let i = next++; i < todo.length; i = next++) {
      const r = await answerer.answer(todo[i], settings);
      if ('error' in r) failures.push({ id: r.id, error: r.error });
      else tokens += r.completion_tokens;
      ordered.put(i, r);
      progress?.tick('error' in r);
    }
  };
  await Promise.all(Array.from({ length: Math.min(answerer.options.batchSize, todo.length) }, lane));
  const seconds = (Date.now() - started) / 1000;
  return { items: items.length, answered: todo.length, skipped: items.length - todo.length, failures, seconds, tokensPerSecond: tokens / Math.max(seconds, 1e-9) };
}

export function formatSummary(s: RunSummary): string {
  const lines = [
    `${s.items} items: ${s.answered} answered in this run (${s.failures.length} failed), ${s.skipped} already in the results file; ${s.seconds.toFixed(1)} s, ${s.tokensPerSecond.toFixed(1)} tokens/s`,
    ...s.failures.slice(0, 20).map((f) => `  failed ${f.id}: ${f.error}`),
  ];
  if (s.failures.length > 20) lines.push(`  … and ${s.failures.length - 20} more (their lines in the results file say why)`);
  return lines.join('\n');
}
