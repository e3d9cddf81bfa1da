/**
 * `npm run bench:batch`: the decode step of continuous batching on the 7B bench checkpoint, for 1, 2, 4 and 8 rows
 * decoding together (ContinuousBatcher, 16-token prompts, 24 tokens each): median step time and tokens/s, and the
 * ratio to one row. With --llama-batched-bench PATH, llama.cpp's batched-bench runs the same shapes on the bench
 * checkpoint's GGUF right after, in the same window, for a side-by-side ratio of decode tokens/s.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ContinuousBatcher, VipLlavaForConditionalGeneration, type WeightDtype } from '../src/index.node.js';
import { nativeAddon } from '../src/backend/cpu/native_addon.node.js';
import { machine } from './report.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    dtype: { type: 'string', default: 'q8_0' },
    tokens: { type: 'string', default: '24' },
    'llama-batched-bench': { type: 'string' },
  },
});
const DIR = values.dir ?? process.env.VIPLLAVA_BENCH_DIR ?? join(homedir(), '.cache', 'vipllava', 'bench', 'vip-llava-7b-random');
const ROWS = [1, 2, 4, 8];
const TOKENS = Number(values.tokens);
const PROMPT = 16;

console.log(`bench:batch — ${machine()}; kernels ${nativeAddon()?.info().isa ?? 'reference engine'}; ${values.dtype} weights`);
const model = await VipLlavaForConditionalGeneration.fromPretrained(DIR, { dtype: values.dtype as WeightDtype });

/** Median time between one row's consecutive tokens while `rows` rows decode together. */
async function stepTime(rows: number): Promise<number> {
  const batcher = new ContinuousBatcher(model, { maxBatch: rows, prefixCacheBytes: 0 });
  const gaps: number[] = [];
  await Promise.all(
    Array.from({ length: rows }, async (_, i) => {
      const ids = [Array.from({ length: PROMPT }, (_, t) => 100 + 37 * t + i)];
      let last = 0;
      let n = 0;
      for await (const _e of batcher.generate({ inputIds: ids, maxNewTokens: TOKENS, minNewTokens: TOKENS })) {
        const now = performance.now();
        if (i === 0 && n >= 2) gaps.push(now - last); // from the third token on: every row has joined
        last = now;
        n++;
      }
    }),
  );
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)] / 1000;
}

const ours: number[] = [];
console.log('\nvipllava (ContinuousBatcher), decode step');
console.log('rows  step (median)  tokens/s  × one row');
for (const rows of ROWS) {
  const step = await stepTime(rows);
  ours.push(rows / step);
  console.log(`${String(rows).padStart(4)}  ${(step * 1000).toFixed(0).padStart(10)} ms  ${(rows / step).toFixed(2).padStart(8)}  ${(rows / step / ours[0]).toFixed(2).padStart(9)}`);
}

if (values['llama-batched-bench']) {
  const gguf = readdirSync(join(DIR, 'gguf')).find((f) => f === `${values.dtype}.gguf`);
  if (!gguf) throw new Error(`no ${values.dtype}.gguf in ${join(DIR, 'gguf')} (npm run bench writes it)`);
  const out = execFileSync(values['llama-batched-bench'], ['-m', join(DIR, 'gguf', gguf), '-c', '2048', '-npp', String(PROMPT), '-ntg', String(TOKENS), '-npl', ROWS.join(','), '-t', '2'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  // Its table: | PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | T s | S t/s |
  const theirs = out.split('\n').filter((l) => /^\|\s+\d+/.test(l)).map((l) => Number(l.split('|')[8]));
  console.log('\nllama.cpp batched-bench, same shapes, decode (S_TG)');
  console.log('rows  tokens/s  × one row  vipllava / llama.cpp');
  ROWS.forEach((rows, i) => console.log(`${String(rows).padStart(4)}  ${theirs[i].toFixed(2).padStart(8)}  ${(theirs[i] / theirs[0]).toFixed(2).padStart(9)}  ${(ours[i] / theirs[i]).toFixed(2).padStart(20)}`));
}
