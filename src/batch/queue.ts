/**
 * A run spread over machines through BullMQ on Redis. `enqueue` adds one job per item (its id the job id, so
 * adding twice adds nothing) with the run's settings; workers (`work`) load the model once and take jobs,
 * `batchSize` at a time, decoded together. A finished job's result goes to a Redis stream as well as into the
 * job; `collect` reads that stream into the results file, once per id however many times a job ran (a worker
 * killed after answering, before BullMQ heard, has its job run again). A worker killed mid-job stops renewing
 * its lock: BullMQ's stalled-job check hands the job to another worker. A job that keeps failing ends failed,
 * and `collect` writes its reason.
 */
import { hostname } from 'node:os';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { ItemAnswerer, ItemSettings } from './answer.js';
import type { BatchItem, BatchResult } from './items.js';
import type { Progress } from './progress.js';
import type { ResultsFile } from './results.js';

export interface QueueOptions {
  /** redis://host:port[/db] */
  url: string;
  /** The queue's name: one per run, shared by the enqueuer and its workers (default "vipllava"). */
  name?: string;
}

interface JobData {
  item: BatchItem;
  settings: ItemSettings;
}

const PREFIX = 'vipllava';
/** Ids become job ids: never an integer, never a colon (BullMQ's rules). */
export const jobId = (id: string) => `item-${encodeURIComponent(id)}`;
const resultsKey = (name: string) => `${PREFIX}:${name}:results`;

const urls = new WeakMap<Queue<JobData, BatchResult>, string>();
const url = (q: Queue<JobData, BatchResult>) => urls.get(q)!;

function connection(url: string) {
  if (!/^rediss?:\/\//.test(url)) throw new Error(`--queue must be a redis:// URL, got "${url}"`);
  return { url, maxRetriesPerRequest: null };
}

export function openQueue(o: QueueOptions): Queue<JobData, BatchResult> {
  const queue = new Queue<JobData, BatchResult>(o.name ?? 'vipllava', { connection: connection(o.url), prefix: PREFIX });
  urls.set(queue, o.url);
  return queue;
}

/** Adds the items' jobs (those already queued, by id, are left as they are); returns how many were new. */
export async function enqueue(queue: Queue<JobData, BatchResult>, items: BatchItem[], settings: ItemSettings, attempts = 3): Promise<number> {
  const redis = new Redis(url(queue), { maxRetriesPerRequest: null });
  let added = 0;
  try {
    for (let i = 0; i < items.length; i += 500) {
      const chunk = items.slice(i, i + 500);
      const exists = chunk.reduce((p, item) => p.exists(`${PREFIX}:${queue.name}:${jobId(item.id)}`), redis.pipeline());
      const known = ((await exists.exec()) ?? []).map(([, n]) => n === 1);
      const fresh = chunk.filter((_, j) => !known[j]);
      added += fresh.length;
      await queue.addBulk(
        fresh.map((item) => ({
          name: 'item',
          data: { item, settings },
          opts: { jobId: jobId(item.id), attempts, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: false },
        })),
      );
    }
  } finally {
    redis.disconnect();
  }
  return added;
}

/**
 * Writes every item's result into the file as workers finish them, until all are in; final failures are
 * written with their reason.
 */
export async function collect(queue: Queue<JobData, BatchResult>, items: BatchItem[], file: ResultsFile, progress?: Progress, pollMs = 1000): Promise<void> {
  const wanted = new Set(items.map((it) => it.id).filter((id) => !file.done.has(id)));
  const reader = new Redis(url(queue), { maxRetriesPerRequest: null });
  const byJob = new Map(items.map((it) => [jobId(it.id), it.id]));
  let last = '0';
  let lastFailedCheck = 0;
  try {
    while (wanted.size > 0) {
      const reply = (await reader.xread('COUNT', 500, 'BLOCK', pollMs, 'STREAMS', resultsKey(queue.name), last)) as Array<[string, Array<[string, string[]]>]> | null;
      for (const [, entries] of reply ?? []) {
        for (const [entryId, fields] of entries) {
          last = entryId;
          const r = JSON.parse(fields[fields.indexOf('result') + 1]) as BatchResult;
          if (!wanted.delete(r.id)) continue; // another run's item, or a job that ran twice
          file.write(r);
          progress?.tick('error' in r, `on ${fields[fields.indexOf('worker') + 1]}`);
        }
      }
      if (Date.now() - lastFailedCheck > 5 * pollMs) {
        lastFailedCheck = Date.now();
        for (const job of await queue.getFailed()) {
          const id = byJob.get(job.id ?? '');
          if (id === undefined || !wanted.has(id)) continue;
          wanted.delete(id);
          const r: BatchResult = { id, error: `failed after ${job.attemptsMade} attempts: ${job.failedReason}` };
          file.write(r);
          progress?.tick(true);
        }
      }
    }
  } finally {
    reader.disconnect();
  }
}

export interface WorkOptions extends QueueOptions {
  /** Seconds without a lock renewal after which another worker takes a job (BullMQ's lock and stall check). */
  stallSeconds?: number;
  /** Stop once the queue is empty and nothing runs. */
  untilEmpty?: boolean;
  log?: (line: string) => void;
}

/** Takes jobs until stopped (SIGINT/SIGTERM end it after the jobs in hand) or, with untilEmpty, until none are left. */
export async function work(answerer: ItemAnswerer, o: WorkOptions): Promise<void> {
  const name = `${hostname()}:${process.pid}`;
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const lockDuration = Math.round((o.stallSeconds ?? 30) * 1000);
  const queueName = o.name ?? 'vipllava';
  connection(o.url);
  const results = new Redis(o.url, { maxRetriesPerRequest: null });
  const processor = async (job: Job<JobData, BatchResult>): Promise<BatchResult> => {
    log(`worker ${name}: started ${job.data.item.id} (attempt ${job.attemptsMade + 1})`);
    const r = await answerer.answer(job.data.item, job.data.settings);
    await results.xadd(resultsKey(queueName), '*', 'id', r.id, 'result', JSON.stringify(r), 'worker', name);
    log(`worker ${name}: finished ${job.data.item.id}`);
    return r;
  };
  const worker = new Worker<JobData, BatchResult>(queueName, processor, {
    connection: connection(o.url),
    prefix: PREFIX,
    name,
    concurrency: answerer.options.batchSize,
    lockDuration,
    stalledInterval: lockDuration,
    maxStalledCount: 2,
  });
  worker.on('failed', (job, e) => log(`worker ${name}: ${job?.data.item.id ?? '?'} failed: ${e.message}`));
  worker.on('error', (e) => log(`worker ${name}: ${e.message}`));
  await worker.waitUntilReady();
  log(`worker ${name}: taking jobs from ${queueName} (${answerer.options.batchSize} at a time)`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      void worker.close().then(() => results.quit()).then(() => resolve());
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (o.untilEmpty) {
      // the queue is drained when nothing waits; it is empty once the last jobs in hand end too
      const queue = new Queue(queueName, { connection: connection(o.url), prefix: PREFIX });
      const check = () =>
        void queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized').then((counts) => {
          if (!stopping && Object.values(counts).every((n) => n === 0)) void queue.close().then(stop);
        });
      worker.on('drained', check);
      worker.on('completed', check);
      worker.on('failed', check);
    }
  });
}
