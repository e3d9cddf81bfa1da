/** generateStream(): events that add up to generate()'s output, rows that finish on their own, cancellation. */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { VipLlavaForConditionalGeneration } from '../../src/index.node.js';
import { VipLlavaProcessor } from '../../src/processor/processor.js';
import type { TokenEvent } from '../../src/generation/generate.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { StopStringFilter, StopStringMatcher } from '../../src/generation/stopping.js';
import { TINY_LLAMA } from '../helpers/fixtures.js';
import { camelOptions, generationGoldens } from '../helpers/generation_goldens.js';
import { image } from '../helpers/processor_goldens.js';

async function collect(stream: AsyncGenerator<TokenEvent, Tensor<'int64'>>): Promise<{ events: TokenEvent[]; result: Tensor<'int64'> }> {
  const events: TokenEvent[] = [];
  for (;;) {
    const r = await stream.next();
    if (r.done) return { events, result: r.value };
    events.push(r.value);
  }
}

describe('streaming', () => {
  let model: VipLlavaForConditionalGeneration;
  let processor: VipLlavaProcessor;
  const g = generationGoldens('tiny-llama');
  before(async () => {
    model = await VipLlavaForConditionalGeneration.fromPretrained(TINY_LLAMA);
    processor = await VipLlavaProcessor.fromPretrained(TINY_LLAMA);
  });

  test('a batch streams per row; rows finish independently; the text adds up to the decoded answer', async () => {
    const c = g.cases.eos_early_batch;
    const inputs = await processor.process({ text: g.batch_texts, images: g.images.map(image) });
    const { events, result } = await collect(model.generateStream({ ...inputs, ...camelOptions(c.kwargs), padTokenId: 32001, tokenizer: processor.tokenizer }));
    assert.deepEqual(result.tolist(), c.output);
    const promptLength = inputs.inputIds.dims[1];
    for (const row of [0, 1]) {
      const mine = events.filter((e) => e.row === row);
      const expected = c.output[row].slice(promptLength).filter((id) => id !== 32001);
      assert.deepEqual(mine.map((e) => e.token), expected);
      assert.equal(mine.filter((e) => e.finishReason).length, 1, 'one finishing event, the last');
      assert.ok(mine.at(-1)!.finishReason);
      assert.equal(mine.map((e) => e.text).join(''), processor.tokenizer.decode(expected, { skipSpecialTokens: true }));
    }
    assert.equal(events.filter((e) => e.row === 0).at(-1)!.finishReason, 'eos');
    assert.equal(events.filter((e) => e.row === 1).at(-1)!.finishReason, 'length');
  });

  test('stop strings end a row with finishReason stop_string', async () => {
    const c = g.cases.stop_strings;
    const inputs = await processor.process({ text: g.prompts[0], images: [image(g.images[0])] });
    const { events, result } = await collect(model.generateStream({ ...inputs, ...camelOptions(c.kwargs), tokenizer: processor.tokenizer }));
    assert.deepEqual(result.tolist(), c.output);
    assert.equal(events.at(-1)!.finishReason, 'stop_string');
  });

  test('log-probabilities: greedy picks the most likely token, so each is the maximum of its distribution', async () => {
    const { events } = await collect(model.generateStream({ inputIds: [[1, 450, 4996, 17354]], maxNewTokens: 5, outputLogprobs: true }));
    assert.equal(events.length, 5);
    for (const e of events) assert.ok(e.logprob! < 0 && e.logprob! > -20, `${e.logprob}`);
  });

  test('an AbortSignal stops between tokens; the sequences so far are returned', async () => {
    const ac = new AbortController();
    const stream = model.generateStream({ inputIds: [[1, 450, 4996, 17354]], maxNewTokens: 50, signal: ac.signal, tokenizer: processor.tokenizer });
    const events: TokenEvent[] = [];
    let result: Tensor<'int64'> | undefined;
    for (;;) {
      const r = await stream.next();
      if (r.done) {
        result = r.value;
        break;
      }
      events.push(r.value);
      if (events.length === 3) ac.abort();
    }
    assert.equal(events.length, 4);
    assert.deepEqual(events.at(-1), { row: 0, token: -1, text: '', finishReason: 'abort' });
    assert.deepEqual(result!.dims, [1, 4 + 3]);
    const already = new AbortController();
    already.abort();
    const none = await collect(model.generateStream({ inputIds: [[1, 450]], signal: already.signal }));
    assert.deepEqual(none.events.map((e) => e.finishReason), ['abort']);
    assert.deepEqual(none.result.tolist(), [[1, 450]]);
  });

  test('maxTime stops after the token that crosses it', async () => {
    const { events } = await collect(model.generateStream({ inputIds: [[1, 450]], maxNewTokens: 500, maxTime: 0.000001 }));
    assert.ok(events.length >= 1 && events.length <= 2, `${events.length} tokens`); // the prefill alone takes longer
    assert.equal(events.at(-1)!.finishReason, 'time');
  });

  test('beam search does not stream', async () => {
    await assert.rejects(model.generateStream({ inputIds: [[1, 450]], numBeams: 2 }).next(), /cannot stream/);
  });
});

describe('stop strings', () => {
  let processor: VipLlavaProcessor;
  before(async () => {
    processor = await VipLlavaProcessor.fromPretrained(TINY_LLAMA);
  });
  const ids = (text: string) => processor.tokenizer.encode(text, { addSpecialTokens: false });

  test('a stop string must end inside the newest token, across token boundaries', () => {
    const m = new StopStringMatcher(processor.tokenizer, ['###']);
    const t = ids('Answer.###Human');
    const hashes = t.findIndex((_, i) => processor.tokenizer.decode(t.slice(0, i + 1)).endsWith('###'));
    assert.ok(hashes > 0);
    assert.equal(m.matches(t.slice(0, hashes)), false, 'not yet complete');
    assert.equal(m.matches(t.slice(0, hashes + 1)), true, 'completed by this token');
    assert.equal(m.matches(t), false, 'an older occurrence does not stop again');
    const over = new StopStringMatcher(processor.tokenizer, ['Hum']);
    assert.equal(over.matches(ids('Hi Human')), true, 'the newest token may run past the stop string');
  });

  test('streamed text holds back what might become a stop string', () => {
    const f = new StopStringFilter(['###']);
    assert.equal(f.push('Hello #'), 'Hello ');
    assert.equal(f.push('# world'), '## world');
    assert.equal(f.push(' end##'), ' end');
    assert.equal(f.push('#Human'), '');
    assert.equal(f.push('more'), '');
    assert.equal(f.flush(), '');
    const g2 = new StopStringFilter(['###']);
    assert.equal(g2.push('trailing #'), 'trailing ');
    assert.equal(g2.flush(), '#');
  });
});
