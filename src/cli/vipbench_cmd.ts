/**
 * `vipllava vipbench`: ViP-Bench answered as the original evaluation answers it (llava_v1, temperature 0, images
 * padded to a square, up to 1024 new tokens), written as the official answers file {"v1_<id>": answer}, and,
 * with --judge, graded through an OpenAI-compatible endpoint as the original evaluator grades it.
 */
import { writeFileSync } from 'node:fs';
import { ItemAnswerer } from '../batch/answer.js';
import { readDataset } from '../batch/datasets.js';
import { Progress } from '../batch/progress.js';
import { ResultsFile } from '../batch/results.js';
import { formatSummary, runItems } from '../batch/run.js';
import { Judge, score } from '../batch/vipbench.js';
import { VipLlavaForConditionalGeneration, VipLlavaProcessor, type FromPretrainedOptions } from '../index.node.js';
import { UsageError } from './generation_flags.js';

export const VIPBENCH_FLAGS = {
  judge: { type: 'string' },
  'judge-model': { type: 'string' },
  'judge-key': { type: 'string' },
} as const;

export const VIPBENCH_HELP = `vipbench options:
  --data DIR --split bbox|human   the ViP-Bench folder (HF dataset mucai/ViP-Bench) and which prompts
  --out answers.json        the official answers file; answers.json.items.jsonl keeps the run (resumable)
  --judge URL               grade through this OpenAI-compatible endpoint (e.g. https://api.openai.com/v1)
  --judge-model M --judge-key K
                            the judge model (the paper: gpt-4-0613) and its key (default $OPENAI_API_KEY);
                            replies are cached in answers.json.judge.jsonl, so a re-run pays for none twice`;

type Values = Record<string, string | string[] | boolean | undefined>;

export async function vipbenchCommand(model: string, hub: FromPretrainedOptions, values: Values, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<void> {
  const data = values.data as string | undefined;
  const answersFile = values.out as string | undefined;
  if (!data || !answersFile) throw new UsageError('vipbench needs --data DIR (ViP-Bench) and --out answers.json');
  const split = (values.split as string | undefined) ?? 'bbox';
  if (split !== 'bbox' && split !== 'human') throw new UsageError(`--split must be bbox or human, got "${split}"`);
  if (values.judge !== undefined && values['judge-model'] === undefined) throw new UsageError('--judge needs --judge-model (the paper used gpt-4-0613)');
  const items = readDataset(data, { format: 'vipbench', split });
  const batchSize = values['batch-size'] === undefined ? 4 : Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError(`--batch-size must be a positive integer, got "${String(values['batch-size'])}"`);

  const file = new ResultsFile(`${answersFile}.items.jsonl`);
  try {
    const todo = items.filter((it) => !file.done.has(it.id));
    if (todo.length > 0) {
      const processor = await VipLlavaProcessor.fromPretrained(model, hub);
      const vip = await VipLlavaForConditionalGeneration.fromPretrained(model, hub);
      const settings = { template: 'llava_v1', imageAspectRatio: 'pad' as const, generation: { maxNewTokens: 1024, doSample: false, numBeams: 1 } };
      const summary = await runItems(items, new ItemAnswerer(vip, processor, { batchSize }), settings, file, new Progress(items.length, process.stderr, items.length - todo.length));
      process.stderr.write(`${formatSummary(summary)}\n`);
    }
  } finally {
    file.close();
  }
  const answers: Record<string, string> = {};
  for (const it of items) {
    const r = file.done.get(it.id)!;
    answers[it.id] = 'error' in r ? '' : r.answer;
  }
  writeFileSync(answersFile, `${JSON.stringify(answers, null, 2)}\n`);
  process.stderr.write(`vipllava: ${items.length} answers written to ${answersFile}\n`);
  if (values.judge === undefined) return;

  const judge = new Judge({ url: values.judge as string, model: values['judge-model'] as string, key: (values['judge-key'] as string | undefined) ?? process.env.OPENAI_API_KEY, cacheFile: `${answersFile}.judge.jsonl` });
  const grades = new Map<string, number>();
  const progress = new Progress(items.length, process.stderr);
  for (const it of items) {
    if (it.expected === undefined) throw new UsageError(`${it.id} has no ground truth: vip-bench-meta-data.json is missing it`);
    const metaQuestion = (it.meta?.meta_question as string | undefined) ?? it.question;
    const g = await judge.grade(it.id, it.question, metaQuestion, it.expected, answers[it.id]);
    grades.set(it.id, g.score);
    progress.tick(false, `${judge.sent} judge requests`);
  }
  const { rows } = score(items, grades);
  const width = Math.max(...rows.map((r) => r.capability.length));
  out(`ViP-Bench ${split}, judged by ${String(values['judge-model'])}:\n`);
  for (const r of rows) out(`${r.capability.padEnd(width)}  ${r.score.toFixed(1).padStart(5)}  (${r.samples} samples)\n`);
}
