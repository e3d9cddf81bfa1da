/**
 * `vipllava batch` and `vipllava worker`: a dataset answered on this machine (resumable: a restart with the same
 * --out skips what is there), or enqueued on Redis (BullMQ) for workers on any number of machines and collected
 * into --out as they finish.
 */
import { ItemAnswerer, type ItemSettings } from '../batch/answer.js';
import { FORMATS, readDataset, type DatasetFormat } from '../batch/datasets.js';
import { Progress } from '../batch/progress.js';
import { collect, enqueue, openQueue, work } from '../batch/queue.js';
import { ResultsFile } from '../batch/results.js';
import { formatSummary, runItems, type RunSummary } from '../batch/run.js';
import { VipLlavaForConditionalGeneration, VipLlavaProcessor, type FromPretrainedOptions } from '../index.node.js';
import { generationOptions, UsageError } from './generation_flags.js';

export const BATCH_FLAGS = {
  out: { type: 'string' },
  format: { type: 'string' },
  split: { type: 'string' },
  'batch-size': { type: 'string' },
  queue: { type: 'string' },
  'queue-name': { type: 'string' },
  attempts: { type: 'string' },
  'stall-seconds': { type: 'string' },
  'until-empty': { type: 'boolean', default: false },
} as const;

export const BATCH_HELP = `batch and worker options:
  --data D                  a .jsonl or .csv of items ({id, image, question, visual_prompts?}), a ViP-Bench
                            folder (--split bbox|human) or the synthetic data folder (held-out split)
  --format jsonl|csv|vipbench|heldout
                            what --data is (default: from its name and contents)
  --out FILE                (batch) the results, one JSON line per item; a restart skips the ids in it
  --batch-size N            items decoded together (default 4; a worker takes this many jobs at once)
  --queue redis://H:P       batch: enqueue for workers (idempotent by id) and collect; worker: take jobs
  --queue-name N            one queue per run (default vipllava)
  --attempts N              (batch --queue) tries per item before it is recorded as failed (default 3)
  --stall-seconds S         (worker) a job whose worker stops renewing its lock this long goes to another
                            worker (default 30)
  --until-empty             (worker) exit once the queue is empty`;

type Values = Record<string, string | string[] | boolean | undefined>;

function integer(values: Values, flag: string, fallback: number, min = 1): number {
  const raw = values[flag];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be an integer >= ${min}, got "${String(raw)}"`);
  return n;
}

/** The run's settings from the flags: template, system, and generation (beam search is not batched). */
function settings(values: Values): ItemSettings {
  const template = values.template as string | undefined;
  const generation = generationOptions(values, template === undefined || template === 'hub');
  if ((generation.numBeams ?? 1) > 1) throw new UsageError('batch decodes one sequence per item; --num-beams is not available here');
  return { template, system: values.system as string | undefined, generation };
}

function dataset(values: Values) {
  const data = values.data as string | undefined;
  if (!data) throw new UsageError('batch needs --data (a .jsonl or .csv file, or a dataset folder)');
  const format = values.format as string | undefined;
  if (format !== undefined && !FORMATS.includes(format as DatasetFormat)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${format}"`);
  const split = values.split as string | undefined;
  if (split !== undefined && split !== 'bbox' && split !== 'human') throw new UsageError(`--split must be bbox or human, got "${split}"`);
  return readDataset(data, { format: format as DatasetFormat | undefined, split });
}

async function load(model: string, hub: FromPretrainedOptions, batchSize: number): Promise<ItemAnswerer> {
  const processor = await VipLlavaProcessor.fromPretrained(model, hub);
  const vip = await VipLlavaForConditionalGeneration.fromPretrained(model, hub);
  return new ItemAnswerer(vip, processor, { batchSize });
}

export async function batchCommand(model: string, hub: FromPretrainedOptions, values: Values): Promise<void> {
  const out = values.out as string | undefined;
  if (!out) throw new UsageError('batch needs --out FILE (the results; a restart with the same file resumes)');
  const items = dataset(values);
  const s = settings(values);
  const batchSize = integer(values, 'batch-size', 4);
  const file = new ResultsFile(out);
  const skipped = items.filter((it) => file.done.has(it.id)).length;
  const progress = new Progress(items.length, process.stderr, skipped);
  const started = Date.now();
  try {
    if (values.queue !== undefined) {
      const queue = openQueue({ url: values.queue as string, name: values['queue-name'] as string | undefined });
      try {
        const missing = items.filter((it) => !file.done.has(it.id));
        const added = await enqueue(queue, missing, s, integer(values, 'attempts', 3));
        process.stderr.write(`vipllava: ${added} of ${missing.length} items enqueued on ${queue.name} (the rest were queued already; ${skipped} in ${out}); waiting for workers\n`);
        await collect(queue, items, file, progress);
      } finally {
        await queue.close();
      }
      const results = items.map((it) => file.done.get(it.id)!);
      const failures = results.flatMap((r) => ('error' in r ? [{ id: r.id, error: r.error }] : []));
      const tokens = results.reduce((n, r) => n + ('error' in r ? 0 : r.completion_tokens), 0);
      const seconds = (Date.now() - started) / 1000;
      const summary: RunSummary = { items: items.length, answered: items.length - skipped, skipped, failures, seconds, tokensPerSecond: tokens / seconds };
      process.stderr.write(`${formatSummary(summary)}\n`);
      return;
    }
    const summary = await runItems(items, await load(model, hub, batchSize), s, file, progress);
    process.stderr.write(`${formatSummary(summary)}\n`);
  } finally {
    file.close();
  }
}

export async function workerCommand(model: string, hub: FromPretrainedOptions, values: Values): Promise<void> {
  if (values.queue === undefined) throw new UsageError('worker needs --queue redis://host:port');
  const answerer = await load(model, hub, integer(values, 'batch-size', 4));
  await work(answerer, {
    url: values.queue as string,
    name: values['queue-name'] as string | undefined,
    stallSeconds: values['stall-seconds'] === undefined ? undefined : Number(values['stall-seconds']),
    untilEmpty: values['until-empty'] === true,
  });
}
