/** `vipllava eval`: the held-out split of the synthetic task through this engine, next to transformers' answers. */
import { accuracyTable, evaluateHeldout, type AccuracyRow } from '../evaluation/heldout.js';
import { VipLlavaForConditionalGeneration, VipLlavaProcessor, type ResolveOptions } from '../index.node.js';

export interface EvalArgs {
  model: string;
  data: string;
  limit?: number;
  batchSize?: number;
  json: boolean;
  hub: ResolveOptions;
}

const pct = (v: number | null) => (v === null ? '—' : `${(100 * v).toFixed(1)}%`);

export function formatTable(rows: AccuracyRow[]): string {
  const lines = [['', 'items', 'ours', 'transformers', 'same answer'], ...rows.map((r) => [r.group, String(r.items), pct(r.ours), pct(r.transformers), pct(r.agreement)])];
  const widths = lines[0].map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  return lines.map((l) => l.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

export async function evalCommand(a: EvalArgs, out: NodeJS.WritableStream = process.stdout, log: (s: string) => void = (s) => process.stderr.write(s)): Promise<void> {
  const processor = await VipLlavaProcessor.fromPretrained(a.model, a.hub);
  const model = await VipLlavaForConditionalGeneration.fromPretrained(a.model, a.hub);
  const started = Date.now();
  const results = await evaluateHeldout(model, processor, a.data, {
    limit: a.limit,
    batchSize: a.batchSize,
    onItem: (r) => {
      const mark = r.correct ? 'right' : `wrong (expected "${r.item.answer}")`;
      const differs = r.reference !== undefined && r.reference !== r.answer ? `, transformers said "${r.reference}"` : '';
      log(`${String(r.index + 1).padStart(4)}  ${r.item.question} -> "${r.answer}" ${mark}${differs}\n`);
    },
  });
  const rows = accuracyTable(results);
  const seconds = (Date.now() - started) / 1000;
  if (a.json) {
    out.write(`${JSON.stringify({ model: a.model, items: results.length, seconds, rows, answers: results.map((r) => r.answer) })}\n`);
  } else {
    out.write(`${formatTable(rows)}\n${results.length} held-out items in ${seconds.toFixed(1)} s\n`);
  }
}
