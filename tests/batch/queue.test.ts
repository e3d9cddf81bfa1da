/**
 * Dataset runs across machines through BullMQ on a real Redis (Debian's redis-server on a free loopback port):
 * two `vipllava worker` processes over a 40-item dataset, one killed with SIGKILL in the middle of a job; every
 * item is answered exactly once, with the answers of a one-machine run, and the killed worker's job is finished
 * by the other. Enqueueing twice adds nothing; a result that arrives twice is written once. Skipped without
 * redis-server, unless VIPLLAVA_REQUIRE_REDIS is set (CI).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { collect, enqueue, jobId, openQueue } from '../../src/batch/queue.js';
import { readDataset } from '../../src/batch/datasets.js';
import { ResultsFile } from '../../src/batch/results.js';
import { REDIS, startRedis, writeDataset } from '../helpers/batch_data.js';
import { tempDir } from '../helpers/checkpoints.js';
import { ROOT } from '../helpers/fixtures.js';

const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
if (!REDIS && process.env.VIPLLAVA_REQUIRE_REDIS) throw new Error('redis-server is required (VIPLLAVA_REQUIRE_REDIS) but not installed');
/** The runs' processes use the default engine in every pass of the suite: they test the machinery, which is the same on each. */
const env = { ...process.env, VIPLLAVA_ENGINE: '', VIPLLAVA_DEVICE: '' };
const lines = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string });

/** A worker process and the lines it has written to stderr. */
function startWorker(url: string, queueName: string): { child: ChildProcess; log: string[]; line(re: RegExp): Promise<string> } {
  const child = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--queue-name', queueName, '--batch-size', '2', '--stall-seconds', '2'], { stdio: ['ignore', 'ignore', 'pipe'], env });
  const log: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  let pending = '';
  child.stderr!.on('data', (d: Buffer) => {
    pending += d.toString();
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const l of parts) {
      log.push(l);
      for (const w of waiters.splice(0)) if (w.re.test(l)) w.resolve(l);
      else waiters.push(w);
    }
  });
  return {
    child,
    log,
    line: (re) => {
      const seen = log.find((l) => re.test(l));
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ re, resolve }));
    },
  };
}

describe('dataset runs on Redis (BullMQ)', { skip: REDIS ? false : 'redis-server is not installed (apt-get install redis-server)' }, () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  const dir = tempDir('queue');
  const data = writeDataset(dir, 40);
  before(async () => (redis = await startRedis()));
  after(async () => redis?.stop());

  test('two workers, one killed mid-job: every item answered once, as on one machine', async () => {
    const single = join(dir, 'single.jsonl');
    const r = spawnSync(process.execPath, [CLI, 'batch', '--data', data, '--out', single], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);

    const a = startWorker(redis.url, 'kill-test');
    const b = startWorker(redis.url, 'kill-test');
    await Promise.all([a.line(/taking jobs/), b.line(/taking jobs/)]);
    const out = join(dir, 'queued.jsonl');
    const collector = spawn(process.execPath, [CLI, 'batch', '--queue', redis.url, '--queue-name', 'kill-test', '--data', data, '--out', out], { stdio: ['ignore', 'ignore', 'pipe'], env });
    let collectorLog = '';
    collector.stderr!.on('data', (d: Buffer) => (collectorLog += d.toString()));
    const started = await a.line(/started item-/);
    a.child.kill('SIGKILL');
    const killedJob = /started (item-\d+)/.exec(started)![1];
    const code = await new Promise((resolve) => collector.once('exit', resolve));
    b.child.kill('SIGTERM');
    await new Promise((resolve) => b.child.once('exit', resolve));
    assert.equal(code, 0, collectorLog);

    const queued = lines(out);
    assert.equal(queued.length, 40);
    assert.equal(new Set(queued.map((l) => l.id)).size, 40, 'an id was written twice');
    const byId = (ls: Array<{ id: string }>) => Object.fromEntries(ls.map((l) => [l.id, l]));
    assert.deepEqual(byId(queued), byId(lines(single)));
    assert.ok(!a.log.some((l) => l.includes(`finished ${killedJob}`)), 'the killed worker had not finished its job');
    assert.ok(b.log.some((l) => l.includes(`finished ${killedJob}`)), `the other worker finished ${killedJob}:\n${b.log.join('\n')}`);
    assert.match(collectorLog, /40 of 40 items enqueued/);
    // collecting again: nothing is missing, nothing is enqueued
    const again = spawnSync(process.execPath, [CLI, 'batch', '--queue', redis.url, '--queue-name', 'kill-test', '--data', data, '--out', out], { encoding: 'utf8', env });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /0 of 0 items enqueued .*40 in /);
    assert.equal(lines(out).length, 40);
  });

  test('enqueueing again adds nothing; a result that arrives twice is written once', async () => {
    const items = readDataset(data).slice(0, 3);
    const queue = openQueue({ url: redis.url, name: 'dedup-test' });
    const client = new Redis(redis.url);
    try {
      assert.equal(await enqueue(queue, items, {}), 3);
      assert.equal(await enqueue(queue, items, {}), 0);
      assert.equal(await queue.count(), 3);
      assert.equal((await queue.getJob(jobId(items[0].id)))?.data.item.id, items[0].id);
      for (const it of [...items, items[0], items[1]]) {
        const r = { id: it.id, answer: `answer to ${it.id}`, finish_reason: 'eos', prompt_tokens: 1, completion_tokens: 1 };
        await client.xadd('vipllava:dedup-test:results', '*', 'id', it.id, 'result', JSON.stringify(r), 'worker', 'w');
      }
      const file = new ResultsFile(join(dir, 'dedup.jsonl'));
      await collect(queue, items, file, undefined, 100);
      file.close();
      assert.deepEqual(lines(join(dir, 'dedup.jsonl')).map((l) => l.id), items.map((it) => it.id));
    } finally {
      client.disconnect();
      await queue.close();
    }
  });
});
