/**
 * `npm run bench:server`: concurrent streaming clients against `vipllava serve`'s OpenAI route — 1, 2, 4 and 8 at
 * once, each asking for the same number of tokens (min_tokens = max_tokens, so random weights cannot stop early) —
 * on the shipped model and on the 7B bench checkpoint (8-bit weights, the shipped model's tokenizer): aggregate
 * tokens/s over whole runs and while every client decodes (the decode rate, prefills outside it), time to first
 * token p50/p95, and the ratios to one client; then a conversation's follow-up turn
 * against its first (image) turn, time to first token. With --llama-server PATH, llama.cpp's server runs the bench
 * checkpoint's language model (its GGUF, written by `npm run bench`) under the same text-only load in the same
 * window, for a side-by-side ratio.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL, VipLlavaForConditionalGeneration, VipLlavaProcessor, DEFAULT_MAX_PIXELS, type WeightDtype } from '../src/index.node.js';
import { createServer } from '../src/server/app.js';
import { Service } from '../src/server/service.js';
import { machine } from './report.js';
import { nativeAddon } from '../src/backend/cpu/native_addon.node.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'tiny,7b' },
    tokens: { type: 'string' },
    runs: { type: 'string', default: '3' },
    dir: { type: 'string' },
    dtype: { type: 'string', default: 'q8_0' },
    'llama-server': { type: 'string' },
    levels: { type: 'string', default: '1,2,4,8' },
  },
});
const RUNS = Number(values.runs);
const DIR = values.dir ?? process.env.VIPLLAVA_BENCH_DIR ?? join(homedir(), '.cache', 'vipllava', 'bench', 'vip-llava-7b-random');
const LEVELS = values.levels!.split(',').map(Number);
const IMAGE = join(DEFAULT_MODEL, '..', '..', 'docs', 'images', 'shapes.png');

interface Sample {
  ttft: number;
  seconds: number;
  tokens: number;
  /** When each content chunk (a token) arrived, in ms of performance.now(). */
  arrivals: number[];
}

/** One streaming chat completion; seconds to the first content and to the end, and the tokens (from usage). */
async function client(url: string, model: string, messages: unknown[], tokens: number): Promise<Sample> {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // min_tokens (vLLM's, ours) and ignore_eos (llama-server's) make every reply exactly `tokens` long
    body: JSON.stringify({ model, messages, stream: true, stream_options: { include_usage: true }, max_tokens: tokens, min_tokens: tokens, ignore_eos: true, temperature: 0 }),
  });
  if (!r.ok) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  let ttft = 0;
  let used = 0;
  const arrivals: number[] = [];
  let pending = '';
  for await (const piece of r.body!.pipeThrough(new TextDecoderStream())) {
    pending += piece;
    const events = pending.split('\n\n');
    pending = events.pop()!;
    for (const e of events) {
      const data = e.replace(/^data: /, '');
      if (data === '[DONE]') continue;
      const chunk = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string } }>; usage?: { completion_tokens: number } };
      if (chunk.choices?.[0]?.delta?.content) {
        arrivals.push(performance.now());
        ttft ||= (performance.now() - t0) / 1000;
      }
      if (chunk.usage) used = chunk.usage.completion_tokens;
    }
  }
  return { ttft, seconds: (performance.now() - t0) / 1000, tokens: used || tokens, arrivals };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const median = (xs: number[]) => quantile(xs, 0.5);

/**
 * Aggregate decode tokens/s: the tokens that arrived while every client was decoding (from the last first token to
 * the first last token), per second of that window; prompts and their prefills lie outside it.
 */
function decodeRate(samples: Sample[]): number {
  const from = Math.max(...samples.map((s) => s.arrivals[0]));
  const to = Math.min(...samples.map((s) => s.arrivals[s.arrivals.length - 1]));
  const inside = samples.reduce((n, s) => n + s.arrivals.filter((t) => t > from && t <= to).length, 0);
  return to > from ? (inside / (to - from)) * 1000 : NaN;
}

/**
 * `clients` at once, RUNS times: median aggregate tokens/s over the whole run (prompts included) and while all
 * decode, and TTFT p50/p95 over every client of every run.
 */
async function level(url: string, model: string, clients: number, tokens: number) {
  const rates: number[] = [];
  const decodes: number[] = [];
  const ttfts: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    const samples = await Promise.all(Array.from({ length: clients }, (_, i) => client(url, model, [{ role: 'user', content: `Count from ${i + 1} to ${i + 20}.` }], tokens)));
    const wall = (performance.now() - t0) / 1000;
    rates.push(samples.reduce((s, x) => s + x.tokens, 0) / wall);
    decodes.push(decodeRate(samples));
    ttfts.push(...samples.map((s) => s.ttft));
  }
  return { rate: median(rates), decode: median(decodes), p50: quantile(ttfts, 0.5), p95: quantile(ttfts, 0.95) };
}

/** Each level's aggregate rates: whole runs and decode windows. */
interface Rates {
  whole: number[];
  decode: number[];
}

async function loadLevels(label: string, url: string, model: string, tokens: number): Promise<Rates> {
  console.log(`\n${label}: ${tokens} tokens per client, ${RUNS} runs per level (medians; TTFT over all clients)`);
  console.log('tokens/s: over the whole run (prompts and prefills included), and while every client decodes');
  console.log('clients  whole run  × one client  decoding  × one client  TTFT p50   TTFT p95');
  const rates: Rates = { whole: [], decode: [] };
  for (const c of LEVELS) {
    const r = await level(url, model, c, tokens);
    rates.whole.push(r.rate);
    rates.decode.push(r.decode);
    const cells = [
      String(c).padStart(7),
      r.rate.toFixed(2).padStart(9),
      (r.rate / rates.whole[0]).toFixed(2).padStart(12),
      r.decode.toFixed(2).padStart(8),
      (r.decode / rates.decode[0]).toFixed(2).padStart(12),
      `${r.p50.toFixed(3).padStart(7)} s`,
      `${r.p95.toFixed(3).padStart(7)} s`,
    ];
    console.log(cells.join('  '));
  }
  return rates;
}

/** A first turn with an image, then a follow-up: time to first token of each (the follow-up reuses the first). */
async function followUp(url: string, model: string): Promise<void> {
  const image = `data:image/png;base64,${readFileSync(IMAGE).toString('base64')}`;
  const first = [{ role: 'user', content: [{ type: 'image_url', image_url: { url: image }, visual_prompts: [{ shape: 'rectangle', box: [132, 66, 200, 132] }] }, { type: 'text', text: 'What colour is the shape {prompt}?' }] }];
  const ttft1: number[] = [];
  const ttft2: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const a = await client(url, model, [{ role: 'system', content: `Conversation ${run}.` }, ...first], 4);
    const b = await client(url, model, [{ role: 'system', content: `Conversation ${run}.` }, ...first, { role: 'assistant', content: 'blue' }, { role: 'user', content: 'And its shape?' }], 4);
    ttft1.push(a.ttft);
    ttft2.push(b.ttft);
  }
  const [m1, m2, p1, p2] = [median(ttft1), median(ttft2), quantile(ttft1, 0.95), quantile(ttft2, 0.95)];
  console.log(`follow-up turn: TTFT median ${m2.toFixed(3)} s, p95 ${p2.toFixed(3)} s; first turn (image) median ${m1.toFixed(3)} s, p95 ${p1.toFixed(3)} s; follow-up p95 / first p95 ${(p2 / p1).toFixed(3)} (${RUNS} conversations)`);
}

async function serveModel(model: VipLlavaForConditionalGeneration, processor: VipLlavaProcessor, name: string) {
  const service = new Service(
    { model, processor, templateStops: ['###'] },
    { name, parameters: 0, sizeBytes: 0, dtype: '' },
    { images: { maxPixels: DEFAULT_MAX_PIXELS, maxBytes: 20 << 20, allowRemote: false, remoteTimeoutMs: 1000 }, maxImages: 4, maxBatch: 8, maxQueue: 64, timeoutMs: 3_600_000, prefixCacheBytes: 2 ** 31 },
  );
  const app = await createServer(service, { bodyLimit: 32 << 20 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
}

/** llama.cpp's server on the bench checkpoint's GGUF, 8 parallel slots with continuous batching. */
async function llamaServer(binary: string): Promise<{ url: string; close: () => void }> {
  const gguf = readdirSync(join(DIR, 'gguf')).find((f) => f.endsWith('.gguf') && f.includes('q8'));
  if (!gguf) throw new Error(`no q8 GGUF in ${join(DIR, 'gguf')} (npm run bench writes it)`);
  const port = 18000 + Math.floor(Math.random() * 1000);
  const child = spawn(binary, ['-m', join(DIR, 'gguf', gguf), '--host', '127.0.0.1', '--port', String(port), '-np', '8', '-c', String(8 * 512), '-t', '2', '--no-warmup'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if ((await fetch(`${url}/health`).catch(() => null))?.ok) return { url, close: () => child.kill() };
    await new Promise((r) => setTimeout(r, 500));
  }
  child.kill();
  throw new Error('llama-server did not come up');
}

const isa = nativeAddon()?.info().isa ?? 'reference engine';
console.log(`bench:server — ${machine()}; kernels ${isa}; engine ${process.env.VIPLLAVA_ENGINE ?? 'auto'}`);
const processor = await VipLlavaProcessor.fromPretrained(DEFAULT_MODEL);
const models = values.models!.split(',');

if (models.includes('tiny')) {
  const model = await VipLlavaForConditionalGeneration.fromPretrained(DEFAULT_MODEL);
  const s = await serveModel(model, processor, 'vip-llava-synthetic');
  const tokens = Number(values.tokens ?? 64);
  await loadLevels('shipped model (vip-llava-synthetic, 9.7 M parameters)', s.url, 'vip-llava-synthetic', tokens);
  await followUp(s.url, 'vip-llava-synthetic');
  await s.close();
}

if (models.includes('7b')) {
  if (!existsSync(join(DIR, 'config.json'))) {
    console.log(`\n7B: no bench checkpoint at ${DIR} (npm run bench writes it); skipped`);
  } else {
    const tokens = Number(values.tokens ?? 24);
    // llama.cpp first, alone in memory, then ours: the same load in the same window.
    let theirs: Rates | null = null;
    if (values['llama-server']) {
      const l = await llamaServer(values['llama-server']);
      theirs = await loadLevels('llama.cpp llama-server, the same language model (q8_0 GGUF), text-only prompts', l.url, 'model', tokens);
      l.close();
    }
    const model = await VipLlavaForConditionalGeneration.fromPretrained(DIR, { dtype: values.dtype as WeightDtype });
    const s = await serveModel(model, processor, 'vip-llava-7b-random');
    const ours = await loadLevels(`7B bench checkpoint (${values.dtype} weights), text-only prompts`, s.url, 'vip-llava-7b-random', tokens);
    if (theirs) {
      const ratios = (a: number[], b: number[]) => LEVELS.map((c, i) => `${c} clients ${(a[i] / b[i]).toFixed(2)}`).join(', ');
      console.log(`\nratio vipllava / llama-server, aggregate tokens/s over whole runs: ${ratios(ours.whole, theirs.whole)}`);
      console.log(`ratio vipllava / llama-server, aggregate decode tokens/s: ${ratios(ours.decode, theirs.decode)}`);
    }
    await followUp(s.url, 'vip-llava-7b-random');
    await s.close();
  }
}
