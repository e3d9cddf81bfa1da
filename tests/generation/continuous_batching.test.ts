/**
 * Continuous batching: requests that join and leave a running batch get the tokens they get alone (greedy and
 * seeded sampling), on prompts of different lengths with images, arriving while others decode.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { ContinuousBatcher, VipLlavaForConditionalGeneration, VipLlavaProcessor, type GenerateOptions, type TokenEvent } from '../../src/index.node.js';
import { TINY_LLAMA } from '../helpers/fixtures.js';
import { image } from '../helpers/processor_goldens.js';

async function tokens(stream: AsyncIterable<TokenEvent>): Promise<{ ids: number[]; reason?: string; logprobs: number[] }> {
  const ids: number[] = [];
  const logprobs: number[] = [];
  let reason: string | undefined;
  for await (const e of stream) {
    if (e.token >= 0) ids.push(e.token);
    if (e.logprob !== undefined) logprobs.push(e.logprob);
    reason = e.finishReason ?? reason;
  }
  return { ids, reason, logprobs };
}

describe('continuous batching', () => {
  let model: VipLlavaForConditionalGeneration;
  let processor: VipLlavaProcessor;
  const requests: GenerateOptions[] = [];
  before(async () => {
    model = await VipLlavaForConditionalGeneration.fromPretrained(TINY_LLAMA);
    processor = await VipLlavaProcessor.fromPretrained(TINY_LLAMA);
    const asks: Array<[string, string | null, Partial<GenerateOptions>]> = [
      ['What is inside the red box?', 'demo.png', { maxNewTokens: 12 }],
      ['Hello', null, { maxNewTokens: 20 }],
      ['Describe the picture in a few words, please, and mention every colour.', 'wide.png', { maxNewTokens: 7 }],
      ['Count', null, { maxNewTokens: 16, doSample: true, seed: 7, topK: 20 }],
      ['What shapes are there?', 'demo.png', { maxNewTokens: 9, repetitionPenalty: 1.3 }],
    ];
    for (const [text, img, o] of asks) {
      const prompt = `###Human: ${img ? '<image>\n' : ''}${text}###Assistant:`;
      const inputs = await processor.process({ text: prompt, images: img ? [image(img)] : [] });
      requests.push({ ...inputs, ...o, outputLogprobs: true });
    }
  });

  test('requests joining a running batch at different steps get their solo tokens', async () => {
    const alone: Array<Awaited<ReturnType<typeof tokens>>> = [];
    for (const r of requests) alone.push(await tokens(model.generateStream(r)));
    const sizes: number[] = [];
    const batcher = new ContinuousBatcher(model, { maxBatch: 3, onChange: (running) => sizes.push(running) });
    const together = await Promise.all(
      requests.map(async (r, i) => {
        await new Promise((ok) => setTimeout(ok, i * 15)); // arrivals spread over the others' decoding
        return tokens(batcher.generate(r));
      }),
    );
    together.forEach((t, i) => {
      assert.deepEqual(t.ids, alone[i].ids, `request ${i}`);
      assert.equal(t.reason, alone[i].reason);
      t.logprobs.forEach((lp, k) => assert.ok(Math.abs(lp - alone[i].logprobs[k]) < 1e-4, `request ${i} token ${k}: logprob ${lp} vs ${alone[i].logprobs[k]}`));
    });
    assert.ok(Math.max(...sizes) === 3, `the batch filled up to maxBatch (sizes seen: ${[...new Set(sizes)].join(', ')})`);
    assert.deepEqual(batcher.size, { running: 0, waiting: 0 });
  });

  test('an aborted request leaves at the next step; a consumer that stops reading leaves too; the rest are unaffected', async () => {
    const alone = await tokens(model.generateStream(requests[1]));
    const batcher = new ContinuousBatcher(model, { maxBatch: 4 });
    const ac = new AbortController();
    const aborted = (async () => {
      const seen: TokenEvent[] = [];
      for await (const e of batcher.generate({ ...requests[0], maxNewTokens: 200, minNewTokens: 200, signal: ac.signal })) {
        seen.push(e);
        if (seen.length === 3) ac.abort();
      }
      return seen;
    })();
    const quitter = (async () => {
      let n = 0;
      for await (const _ of batcher.generate({ ...requests[2], maxNewTokens: 200, minNewTokens: 200 })) if (++n === 2) break;
      return n;
    })();
    const other = tokens(batcher.generate(requests[1]));
    const seen = await aborted;
    assert.equal(seen.at(-1)!.finishReason, 'abort');
    assert.ok(seen.length <= 5, `stopped within a step of the abort (${seen.length} events)`);
    assert.equal(await quitter, 2);
    assert.deepEqual((await other).ids, alone.ids);
  });

  test("a conversation's next turn reuses the stored prefix: no vision pass, only the new tokens prefilled, the solo tokens", async () => {
    const batcher = new ContinuousBatcher(model, { maxBatch: 2 });
    const user = (text: string, withImage: boolean) => ({ role: 'user' as const, content: [...(withImage ? [{ type: 'image' as const }] : []), { type: 'text' as const, text }] });
    const turn = async (messages: Parameters<typeof processor.applyChatTemplate>[0]) =>
      processor.process({ text: processor.applyChatTemplate(messages, { addGenerationPrompt: true }), images: [image('demo.png')] });
    const first = await turn([user('What is inside the red box?', true)]);
    const one = await tokens(batcher.generate({ ...first, maxNewTokens: 6, tokenizer: processor.tokenizer }));
    const reply = processor.tokenizer.decode(one.ids, { skipSpecialTokens: true });
    const second = await turn([user('What is inside the red box?', true), { role: 'assistant', content: [{ type: 'text', text: reply }] }, user('And around it?', false)]);
    const vision = model.imageFeatures.bind(model);
    let visionPasses = 0;
    model.imageFeatures = (p) => (visionPasses++, vision(p));
    try {
      const reusedBefore = batcher.reusedTokens;
      const two = await tokens(batcher.generate({ ...second, maxNewTokens: 8 }));
      assert.equal(visionPasses, 0, 'the image was not encoded again');
      const reused = batcher.reusedTokens - reusedBefore;
      const imageTokens = model.config.imageTokensPerImage;
      assert.ok(reused >= imageTokens + 4 && reused < second.inputIds.dims[1], `${reused} of ${second.inputIds.dims[1]} prompt tokens reused`);
      model.imageFeatures = vision;
      assert.deepEqual(two.ids, (await tokens(model.generateStream({ ...second, maxNewTokens: 8 }))).ids, 'the tokens a fresh run gives');
    } finally {
      model.imageFeatures = vision;
    }
    const otherImage = await processor.process({ text: processor.applyChatTemplate([user('What is inside the red box?', true)], { addGenerationPrompt: true }), images: [image('wide.png')] });
    const before = batcher.reusedTokens;
    await tokens(batcher.generate({ ...otherImage, maxNewTokens: 2 }));
    assert.ok(batcher.reusedTokens - before < model.config.imageTokensPerImage, 'another image with the same tokens is not taken for the stored one');
  });

  test('a request aborted while it waits leaves the queue at once, before the batch has room', async () => {
    const batcher = new ContinuousBatcher(model, { maxBatch: 1 });
    const ac = new AbortController();
    let longDone = false;
    const long = tokens(batcher.generate({ ...requests[1], maxNewTokens: 300, minNewTokens: 300 })).then((t) => ((longDone = true), t));
    const waiting = tokens(batcher.generate({ ...requests[0], signal: ac.signal }));
    await new Promise((ok) => setTimeout(ok, 30));
    assert.equal(batcher.size.waiting, 1);
    ac.abort();
    const w = await waiting;
    assert.deepEqual([w.ids, w.reason, longDone], [[], 'abort', false], 'it ended while the long one still ran');
    assert.equal(batcher.size.waiting, 0);
    assert.equal((await long).ids.length, 300);
  });

  test('a bad request is refused before it waits, and a failing one fails alone', async () => {
    const batcher = new ContinuousBatcher(model, { maxBatch: 2 });
    await assert.rejects(tokens(batcher.generate({ ...requests[0], numBeams: 2 })), /one sequence per request/);
    await assert.rejects(tokens(batcher.generate({ ...requests[0], maxNewTokens: 0 })), /maxNewTokens must be a positive integer/);
    assert.throws(() => new ContinuousBatcher(model, { maxBatch: 0 }), /maxBatch must be a positive integer/);
  });
});
