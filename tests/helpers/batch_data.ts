/** Test-only: datasets of the synthetic held-out scenes with box prompts, and a real Redis on a loopback port. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { SYNTHETIC_DATA } from '../../src/index.node.js';

const SHAPES = ['rectangle', 'ellipse', 'arrow', 'point', 'scribble'] as const;
const QUESTIONS = ['What colour is the shape {prompt}?', 'What shape is {prompt}?', 'How many shapes are {prompt}?'];

/** `n` items over held-out scenes (box, shape and question varied by index), as JSONL in `dir`; returns its path. */
export function writeDataset(dir: string, n: number, extra: object[] = []): string {
  const items = Array.from({ length: n }, (_, i) => {
    const x = 20 + ((i * 53) % 200);
    const y = 30 + ((i * 37) % 180);
    const shape = SHAPES[i % SHAPES.length];
    const prompt = shape === 'point' ? { shape, point: [x + 40, y + 40] } : { shape, box: [x, y, x + 90, y + 90] };
    return { id: `item-${String(i).padStart(3, '0')}`, image: join(SYNTHETIC_DATA, 'heldout', `${String(i).padStart(4, '0')}.png`), question: QUESTIONS[i % 3], visual_prompts: [prompt] };
  });
  const path = join(dir, 'items.jsonl');
  writeFileSync(path, [...items, ...extra].map((it) => JSON.stringify(it)).join('\n') + '\n');
  return path;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export const REDIS = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));

/** A redis-server of its own on a free loopback port, nothing persisted; stop() ends it. */
export async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(REDIS!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
