/**
 * `npm run bench:dataset`: dataset runs on the shipped model over the synthetic held-out split — items/s of
 * `vipllava batch` at --batch-size 1, 4 and 8 (whole commands, model load included, medians of --runs), and,
 * where redis-server is installed, the same items through a Redis queue with 1 and 2 `vipllava worker`
 * processes on this host (each at --batch-size 4). Ratios are to batch size 1 / one worker in the same run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SYNTHETIC_DATA } from '../src/index.node.js';
import { nativeAddon } from '../src/backend/cpu/native_addon.node.js';
import { REDIS, startRedis } from '../tests/helpers/batch_data.js';
import { machine } from './report.js';

const { values } = parseArgs({ options: { items: { type: 'string', default: '120' }, runs: { type: 'string', default: '3' } } });
const ITEMS = Number(values.items);
const RUNS = Number(values.runs);
const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'vipllava-bench-dataset-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The held-out split's first ITEMS items as JSONL (exact plans), so every run answers the same questions. */
function dataset(): string {
  const path = join(dir, 'items.jsonl');
  const r = spawnSync(process.execPath, ['-e', `
    const { readDataset } = await import(${JSON.stringify(join(import.meta.dirname, '..', 'src', 'batch', 'datasets.js'))});
    const items = readDataset(${JSON.stringify(SYNTHETIC_DATA)}, { format: 'heldout' }).slice(0, ${ITEMS});
    (await import('node:fs')).writeFileSync(${JSON.stringify(path)}, items.map((i) => JSON.stringify(i)).join('\\n') + '\\n');
  `, '--input-type=module'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return path;
}

function local(data: string, batchSize: number, run: number): number {
  const out = join(dir, `local-${batchSize}-${run}.jsonl`);
  const t = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'batch', '--data', data, '--out', out, '--batch-size', String(batchSize), '--max-new-tokens', '5'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return ITEMS / ((performance.now() - t) / 1000);
}

async function queued(data: string, url: string, workers: number, run: number): Promise<number> {
  const name = `bench-${workers}-${run}`;
  const procs = Array.from({ length: workers }, () => spawn(process.execPath, [CLI, 'worker', '--queue', url, '--queue-name', name, '--batch-size', '4'], { stdio: ['ignore', 'ignore', 'pipe'] }));
  // timed from the enqueue, once every worker has its model loaded
  await Promise.all(procs.map((p) => new Promise<void>((resolve) => p.stderr!.on('data', (d: Buffer) => d.toString().includes('taking jobs') && resolve()))));
  const t = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'batch', '--queue', url, '--queue-name', name, '--data', data, '--out', join(dir, `${name}.jsonl`), '--max-new-tokens', '5'], { encoding: 'utf8' });
  const rate = ITEMS / ((performance.now() - t) / 1000);
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => new Promise((resolve) => p.once('exit', resolve))));
  if (r.status !== 0) throw new Error(r.stderr);
  return rate;
}

const data = dataset();
console.log(`bench:dataset — ${machine()}; kernels ${nativeAddon()?.info().isa ?? 'reference engine'}; ${ITEMS} held-out items of the shipped model, medians of ${RUNS}`);
const base = median(Array.from({ length: RUNS }, (_, i) => local(data, 1, i)));
console.log('\n| run | items/s | × batch size 1 |\n|---|---|---|');
console.log(`| batch --batch-size 1 | ${base.toFixed(2)} | 1.00 |`);
for (const b of [4, 8]) {
  const rate = median(Array.from({ length: RUNS }, (_, i) => local(data, b, i)));
  console.log(`| batch --batch-size ${b} | ${rate.toFixed(2)} | ${(rate / base).toFixed(2)} |`);
}
if (REDIS) {
  const redis = await startRedis();
  try {
    const one: number[] = [];
    const two: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      one.push(await queued(data, redis.url, 1, i));
      two.push(await queued(data, redis.url, 2, i));
    }
    console.log(`\n| Redis queue, this host (batch size 4 each, model load excluded) | items/s | × 1 worker |\n|---|---|---|`);
    console.log(`| 1 worker | ${median(one).toFixed(2)} | 1.00 |`);
    console.log(`| 2 workers | ${median(two).toFixed(2)} | ${(median(two) / median(one)).toFixed(2)} |`);
  } finally {
    await redis.stop();
  }
} else console.log('\n(no redis-server: the queue runs are skipped)');
rmSync(dir, { recursive: true, force: true });
