/**
 * `vipllava serve` through the official clients: the `openai` npm package (streaming and not, an image as a data
 * URL, a visual prompt through the extension) and the `ollama` npm package. Answers equal the CLI's for the
 * same inputs (the shipped model, greedy).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { image } from '../helpers/processor_goldens.js';
import { cliAnswer, serve, type Served } from '../helpers/serve.js';

const MODEL = 'vip-llava-synthetic';
const demo = image('demo.png');
const demoBase64 = readFileSync(demo).toString('base64');
const QUESTION = 'What colour is the shape {prompt}?';
const BOX = [170, 70, 270, 170];

describe('the server through the official clients', () => {
  let s: Served;
  let openai: OpenAI;
  let ollama: Ollama;
  let expected: string;
  let plain: string;
  before(async () => {
    s = await serve();
    openai = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    ollama = new Ollama({ host: s.url });
    expected = cliAnswer(['--image', demo, '--box', BOX.join(','), '--prompt', QUESTION]).answer;
    plain = cliAnswer(['--image', demo, '--prompt', 'What shapes are there?', '--max-new-tokens', '16']).answer;
  });
  after(() => s.close());

  const withPrompt = () =>
    [
      { type: 'image_url', image_url: { url: `data:image/png;base64,${demoBase64}` }, visual_prompts: [{ shape: 'rectangle', box: BOX }] },
      { type: 'text', text: QUESTION },
    ] as unknown as OpenAI.Chat.ChatCompletionContentPart[]; // visual_prompts is this server's extension

  test('openai: a visual prompt through the extension, answered as the CLI answers', async () => {
    const r = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: withPrompt() }] });
    assert.equal(r.choices[0].message.content, expected);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.ok(r.usage!.prompt_tokens > 576, 'the image tokens count as prompt tokens');
    assert.equal(r.usage!.total_tokens, r.usage!.prompt_tokens + r.usage!.completion_tokens);
  });

  test('openai: streaming gives the same text, then usage when asked', async () => {
    const stream = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: withPrompt() }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    assert.equal(text, expected);
    assert.equal(finish, 'stop');
    assert.ok(usage && usage.completion_tokens > 0);
  });

  test('openai: an image without visual prompts, max_tokens, logprobs and the model list', async () => {
    const r = await openai.chat.completions.create({
      model: MODEL,
      max_tokens: 16,
      logprobs: true,
      top_logprobs: 2,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${demoBase64}` } }, { type: 'text', text: 'What shapes are there?' }] }],
    });
    assert.equal(r.choices[0].message.content, plain);
    const lp = r.choices[0].logprobs!.content!;
    assert.equal(lp.length, r.usage!.completion_tokens);
    for (const t of lp) {
      assert.ok(t.logprob <= 0 && t.top_logprobs.length === 2);
      assert.equal(t.top_logprobs[0].logprob, t.logprob, 'greedy: the chosen token is the most likely');
    }
    const models = await openai.models.list();
    assert.deepEqual(models.data.map((m) => m.id), [MODEL]);
  });

  test('openai: n sampled choices, reproducible with a seed', async () => {
    const ask = () => openai.chat.completions.create({ model: MODEL, n: 3, temperature: 1, seed: 5, max_tokens: 6, messages: [{ role: 'user', content: 'Name a shape.' }] });
    const [a, b] = [await ask(), await ask()];
    assert.deepEqual(a.choices.map((c) => c.index), [0, 1, 2]);
    assert.deepEqual(a.choices.map((c) => c.message.content), b.choices.map((c) => c.message.content));
    assert.ok(a.usage!.completion_tokens >= 3 && a.usage!.completion_tokens <= 18, 'usage counts the tokens of all choices');
  });

  test('ollama: chat with images and visual prompts, streaming and not, answered as the CLI answers', async () => {
    const message = { role: 'user', content: QUESTION, images: [demoBase64], visual_prompts: [{ shape: 'rectangle', box: BOX }] };
    const r = await ollama.chat({ model: MODEL, messages: [{ ...message }], stream: false });
    assert.equal(r.message.content, expected);
    assert.equal(r.done_reason, 'stop');
    assert.ok(r.prompt_eval_count > 576 && r.eval_count > 0 && r.total_duration > 0);
    let text = '';
    let last: Awaited<ReturnType<typeof ollama.chat>> | undefined;
    for await (const part of await ollama.chat({ model: MODEL, messages: [{ ...message }], stream: true })) {
      text += part.message.content;
      last = part;
    }
    assert.equal(text, expected);
    assert.equal(last?.done, true);
  });

  test("a conversation's next turn reuses the first turn's keys and values (the image is not encoded again)", async () => {
    const metric = async () => (await s.service.metrics.reusedTokens.get()).values[0]?.value ?? 0;
    const first = [{ role: 'user' as const, content: withPrompt() }];
    const r1 = await openai.chat.completions.create({ model: MODEL, messages: first });
    const before = await metric();
    const follow = [...first, { role: 'assistant' as const, content: r1.choices[0].message.content }, { role: 'user' as const, content: 'And its shape?' }];
    const r2 = await openai.chat.completions.create({ model: MODEL, messages: follow });
    const reused = (await metric()) - before;
    assert.ok(reused > 576 && reused < r2.usage!.prompt_tokens, `${reused} of ${r2.usage!.prompt_tokens} prompt tokens reused`);
    const args = ['--image', demo, '--box', BOX.join(','), '--prompt', QUESTION];
    assert.equal(r1.choices[0].message.content, cliAnswer(args).answer);
  });

  test('ollama: generate with an image, and the model routes', async () => {
    const r = await ollama.generate({ model: MODEL, prompt: 'What shapes are there?', images: [new Uint8Array(readFileSync(demo))], options: { num_predict: 16 }, stream: false });
    assert.equal(r.response, plain);
    const tags = await ollama.list();
    assert.deepEqual(tags.models.map((m) => m.name), [`${MODEL}:latest`]);
    const show = await ollama.show({ model: MODEL });
    assert.deepEqual(show.capabilities, ['completion', 'vision']);
    const ps = await ollama.ps();
    assert.equal(ps.models.length, 1);
  });
});
