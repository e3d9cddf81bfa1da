/**
 * Malformed requests get the right 4xx in the API's own error shape and the server keeps serving; the API key,
 * the queue bound, a client going away, concurrent clients, images from files and URLs, rendering, metrics.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { loadImage, SYNTHETIC_DATA } from '../../src/index.node.js';
import { tempDir } from '../helpers/checkpoints.js';
import { image } from '../helpers/processor_goldens.js';
import { ROOT } from '../helpers/fixtures.js';
import { serve, type Served } from '../helpers/serve.js';
import { spawnSync } from 'node:child_process';

const MODEL = 'vip-llava-synthetic';
const demoBase64 = readFileSync(image('demo.png')).toString('base64');
const dataUrl = `data:image/png;base64,${demoBase64}`;

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, headers: r.headers, json: (await r.json().catch(() => null)) as Record<string, unknown> | null };
}
const chat = (extra: object = {}) => ({ model: MODEL, max_tokens: 4, messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('malformed requests', () => {
  let s: Served;
  before(async () => (s = await serve({ maxImages: 2 }, { bodyLimit: 1 << 20 })));
  after(() => s.close());

  const openaiCases: Array<[string, unknown, number, RegExp]> = [
    ['bad JSON', '{"model": "x", ', 400, /JSON/i],
    ['no messages', { model: MODEL }, 400, /messages/],
    ['messages not an array', chat({ messages: 'hi' }), 400, /messages/],
    ['max_tokens as a string', chat({ max_tokens: '5' }), 400, /max_tokens/],
    ['temperature out of range', chat({ temperature: 3 }), 400, /temperature/],
    ['an unknown role', chat({ messages: [{ role: 'robot', content: 'x' }] }), 400, /role/],
    ['an image that is not one', chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }] }), 400, /content\[0\]\.image_url: /],
    ['not base64 at all', chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'not an image!' } }] }] }), 400, /not base64/],
    ['a remote image when they are off', chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] }), 400, /remote images are off/],
    ['a file when there is no image root', chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'file:///etc/passwd' } }] }] }), 400, /local files are off/],
    ['too many images', chat({ messages: [{ role: 'user', content: [1, 2, 3].map(() => ({ type: 'image_url', image_url: { url: dataUrl } })) }] }), 400, /3 images in one request; this server takes at most 2/],
    ['too many tokens', chat({ max_tokens: 100000 }), 400, /context is \d+; ask for \d+ or fewer/],
    ['an unknown model', chat({ model: 'gpt-4o' }), 404, /model "gpt-4o" is not served here/],
    ['a bad visual prompt', chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: dataUrl }, visual_prompts: [{ shape: 'rectangle', box: [5, 5, 5, 5] }] }] }] }), 400, /visual_prompts: /],
    ['an unknown shape', chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: dataUrl }, visual_prompts: [{ shape: 'star', box: [1, 1, 9, 9] }] }] }] }), 400, /shape/],
    ['{prompt2} with one prompt drawn', chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: dataUrl }, visual_prompts: [{ shape: 'rectangle', box: [1, 1, 90, 90] }] }, { type: 'text', text: 'what is {prompt2}?' }] }] }), 400, /\{prompt2\} in the text, but only 1 visual prompt was drawn/],
    ['a body over the limit', chat({ messages: [{ role: 'user', content: 'x'.repeat(2 << 20) }] }), 413, /too large|body/i],
  ];
  for (const [name, body, status, message] of openaiCases) {
    test(`OpenAI: ${name} → ${status}`, async () => {
      const r = await post(`${s.url}/v1/chat/completions`, body);
      assert.equal(r.status, status, JSON.stringify(r.json));
      const error = r.json?.error as { message: string; type: string; param: unknown; code: unknown };
      assert.match(error.message, message);
      assert.ok(typeof error.type === 'string' && 'param' in error && 'code' in error, 'OpenAI error shape');
    });
  }

  const ollamaCases: Array<[string, string, unknown, number, RegExp]> = [
    ['bad JSON', '/api/chat', '{"model"', 400, /JSON/i],
    ['no model', '/api/chat', { messages: [] }, 400, /model/],
    ['an undecodable image', '/api/chat', { model: MODEL, messages: [{ role: 'user', content: 'x', images: ['AAAA'] }] }, 400, /images\[0\]/],
    ['an unknown model', '/api/generate', { model: 'llama3', prompt: 'x' }, 404, /model "llama3" is not served here/],
    ['num_predict too large', '/api/generate', { model: MODEL, prompt: 'x', stream: false, options: { num_predict: 100000 } }, 400, /ask for \d+ or fewer/],
    ['a visual prompt on a missing image', '/api/chat', { model: MODEL, messages: [{ role: 'user', content: 'x', images: [demoBase64], visual_prompts: [{ shape: 'rectangle', box: [1, 1, 50, 50], image: 3 }] }] }, 400, /names image 3, but the message has 1/],
  ];
  for (const [name, route, body, status, message] of ollamaCases) {
    test(`Ollama: ${name} → ${status}`, async () => {
      const r = await post(`${s.url}${route}`, body);
      assert.equal(r.status, status, JSON.stringify(r.json));
      assert.match(r.json?.error as string, message);
      assert.deepEqual(Object.keys(r.json ?? {}), ['error'], 'Ollama error shape');
    });
  }

  test('an unknown route is a 404 in the shape of its API', async () => {
    const openai = await fetch(`${s.url}/v1/nothing`);
    assert.equal(openai.status, 404);
    assert.match(((await openai.json()) as { error: { message: string } }).error.message, /no route GET \/v1\/nothing/);
    const ollama = await fetch(`${s.url}/api/nothing`);
    assert.equal(ollama.status, 404);
    assert.match(((await ollama.json()) as { error: string }).error, /no route/);
  });

  test('after all of them the server still answers', async () => {
    const r = await post(`${s.url}/v1/chat/completions`, chat());
    assert.equal(r.status, 200);
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
  });
});

describe('the API key', () => {
  let s: Served;
  before(async () => (s = await serve({}, { apiKey: 'sesame' })));
  after(() => s.close());
  test('every route but /health needs it; a wrong one is a 401 in the API shape', async () => {
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
    for (const [path, key] of [['/v1/models', undefined], ['/v1/models', 'wrong'], ['/api/tags', 'sesam'], ['/metrics', undefined]] as const) {
      const r = await fetch(`${s.url}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
      assert.equal(r.status, 401, path);
    }
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'sesame', maxRetries: 0 });
    assert.equal((await client.models.list()).data.length, 1);
    await assert.rejects(new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'nope', maxRetries: 0 }).models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError);
  });
});

describe('load', () => {
  let s: Served;
  before(async () => (s = await serve({ maxBatch: 1, maxQueue: 1 })));
  after(() => s.close());
  const long = (signal?: AbortSignal) =>
    fetch(`${s.url}/v1/chat/completions`, { method: 'POST', signal, headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat({ max_tokens: 1000, min_tokens: 1000, stream: true, messages: [{ role: 'user', content: 'Count.' }] })) });

  test('a full queue is a 503 with Retry-After; a client that goes away frees its place and the next starts at once', async () => {
    const ac = new AbortController();
    const first = await long(ac.signal);
    assert.equal(first.status, 200);
    const reader = first.body!.getReader();
    await reader.read(); // generating now
    const waiting = post(`${s.url}/v1/chat/completions`, chat({ max_tokens: 3 }));
    await new Promise((r) => setTimeout(r, 100));
    const refused = await post(`${s.url}/v1/chat/completions`, chat());
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.match((refused.json?.error as { message: string }).message, /busy/);
    const t0 = Date.now();
    ac.abort();
    const next = await waiting;
    assert.equal(next.status, 200);
    assert.ok(Date.now() - t0 < 10_000, 'the waiting request ran once the first one was gone');
    const generated = (await s.service.metrics.tokensGenerated.get()).values[0].value;
    assert.ok(generated < 500, `the first request stopped at the next step (${generated} tokens in all, not 1000 + 3)`);
    assert.deepEqual(s.service.batcher.size, { running: 0, waiting: 0 });
  });

  test('8 concurrent clients: all answered, each as it is answered alone', async () => {
    const items = (JSON.parse(readFileSync(join(SYNTHETIC_DATA, 'heldout', 'items.json'), 'utf8')) as { items: Array<{ image: string; question: string }> }).items.slice(0, 8);
    const big = await serve({ maxBatch: 8, maxQueue: 16 });
    try {
      const client = new OpenAI({ baseURL: `${big.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const ask = (it: { image: string; question: string }) =>
        client.chat.completions
          .create({ model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${readFileSync(join(SYNTHETIC_DATA, 'heldout', it.image)).toString('base64')}` } }, { type: 'text', text: it.question }] }] })
          .then((r) => r.choices[0].message.content);
      const alone: Array<string | null> = [];
      for (const it of items) alone.push(await ask(it));
      const together = await Promise.all(items.map(ask));
      assert.deepEqual(together, alone);
      assert.ok(new Set(alone).size > 1, 'the questions have different answers');
    } finally {
      await big.close();
    }
  });
});

describe('images, rendering and metrics', () => {
  let s: Served;
  let root: string;
  let remote: { url: string; close: () => void };
  before(async () => {
    root = tempDir('image-root');
    mkdirSync(join(root, 'inside'));
    writeFileSync(join(root, 'inside', 'demo.png'), readFileSync(image('demo.png')));
    symlinkSync('/etc', join(root, 'escape'));
    s = await serve({ images: { maxPixels: 1 << 24, maxBytes: 1 << 22, imageRoot: root, allowRemote: true, remoteTimeoutMs: 2000 } });
    const http = createHttpServer((_req, res) => res.end(readFileSync(image('demo.png'))));
    await new Promise<void>((ok) => http.listen(0, '127.0.0.1', ok));
    remote = { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/demo.png`, close: () => http.close() };
  });
  after(async () => {
    remote.close();
    await s.close();
  });
  const withImage = (url: string) => chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }, { type: 'text', text: 'What shapes are there?' }] }] });

  test('files under the image root are read; nothing outside it is, links included', async () => {
    assert.equal((await post(`${s.url}/v1/chat/completions`, withImage(`file://${join(root, 'inside', 'demo.png')}`))).status, 200);
    for (const path of [join(root, 'inside', '..', '..', 'etc', 'passwd'), join(root, 'escape', 'passwd'), '/etc/passwd', join(root, 'missing.png')]) {
      const r = await post(`${s.url}/v1/chat/completions`, withImage(`file://${path}`));
      assert.equal(r.status, 400, path);
      assert.match((r.json?.error as { message: string }).message, /no such image under the image root/);
    }
  });

  test('remote images may not reach private addresses', async () => {
    const r = await post(`${s.url}/v1/chat/completions`, withImage(remote.url));
    assert.equal(r.status, 400);
    assert.match((r.json?.error as { message: string }).message, /127\.0\.0\.1 is a private address/);
    const local = await serve({ images: { maxPixels: 1 << 24, maxBytes: 1 << 22, allowRemote: true, remoteTimeoutMs: 2000, allowPrivateAddresses: true } });
    try {
      assert.equal((await post(`${local.url}/v1/chat/completions`, withImage(remote.url))).status, 200, 'fetched when the address is allowed');
    } finally {
      await local.close();
    }
  });

  test('/v1/visual-prompts/render returns the pixels the CLI draws, and the phrases', async () => {
    const r = await fetch(`${s.url}/v1/visual-prompts/render`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: dataUrl, visual_prompts: [{ shape: 'ellipse', box: [170, 70, 270, 170], color: 'blue' }] }) });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'image/png');
    assert.deepEqual(JSON.parse(r.headers.get('x-vipllava-phrases')!), ['within the blue ellipse']);
    const served = await loadImage(new Uint8Array(await r.arrayBuffer()));
    const out = join(tempDir('render'), 'cli.png');
    const cli = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'draw', '--image', image('demo.png'), '--box', '170,70,270,170', '--shape', 'ellipse', '--color', 'blue', '-o', out], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    const drawn = await loadImage(out);
    assert.deepEqual([served.width, served.height], [drawn.width, drawn.height]);
    assert.ok(Buffer.from(served.data).equals(Buffer.from(drawn.data)), 'the same pixels');
  });

  test('/metrics speaks Prometheus: requests by route and status, queue, time to first token, tokens', async () => {
    await post(`${s.url}/v1/chat/completions`, chat());
    const text = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(text, /vipllava_requests_total\{route="\/v1\/chat\/completions",status="200"\} \d+/);
    assert.match(text, /vipllava_queue_depth 0/);
    assert.match(text, /vipllava_time_to_first_token_seconds_count [1-9]/);
    assert.match(text, /vipllava_token_latency_seconds_bucket/);
    assert.match(text, /vipllava_tokens_generated_total [1-9]/);
  });
});
