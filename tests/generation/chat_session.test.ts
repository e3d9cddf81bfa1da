/** A chat session keeps its cache: later turns prefill only their new tokens and equal from-scratch runs. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChatSession } from '../../src/generation/chat_session.js';
import { VipLlavaForConditionalGeneration } from '../../src/index.node.js';
import { VipLlavaProcessor } from '../../src/processor/processor.js';
import { VARIANTS } from '../helpers/fixtures.js';
import { image } from '../helpers/processor_goldens.js';

for (const variant of VARIANTS) {
  describe(`chat session: ${variant.name}`, () => {
    test('turns reuse the cache, encode each image once, and give the from-scratch tokens', async () => {
      const model = await VipLlavaForConditionalGeneration.fromPretrained(variant.dir);
      const processor = await VipLlavaProcessor.fromPretrained(variant.dir);
      let encodedImages = 0;
      const imageFeatures = model.imageFeatures.bind(model);
      model.imageFeatures = (pixels) => {
        encodedImages += pixels.dims[0];
        return imageFeatures(pixels);
      };
      const chat = new ChatSession(model, processor);
      const opts = { maxNewTokens: 8, stopStrings: ['###'], tokenizer: processor.tokenizer };
      const turns = [
        { text: 'What is inside the red box?', images: [image('demo.png')] },
        { text: 'And on the left?' },
        { text: 'Compare it with this one.', images: [image('photo.jpg')] },
      ];
      const replies = [];
      for (const turn of turns) replies.push(await chat.ask(turn, opts));
      assert.equal(encodedImages, 2, 'each image encoded once');

      // Turn one prefills everything; later turns only what the cache does not hold.
      assert.equal(replies[0].stats.reusedTokens, 0);
      for (const r of replies.slice(1)) {
        assert.ok(r.stats.reusedTokens > 0);
        assert.equal(r.stats.prefilledTokens, r.stats.promptTokens - r.stats.reusedTokens);
      }
      // What the cache holds after turn one (its prompt and the reply tokens fed back) is reused by turn two as far as
      // turn two's prompt starts with it: all of it with the hub template, whose reply text encodes back to the
      // reply's tokens; at least turn one's prompt with every template.
      const idsOf = async (messages: number, images: string[]) =>
        ((await processor.process({ text: processor.applyChatTemplate(chat.messages.slice(0, messages), { addGenerationPrompt: true }), images })).inputIds.tolist() as number[][])[0];
      const held = [...(await idsOf(1, [image('demo.png')])), ...replies[0].tokens.slice(0, -1)];
      const next = await idsOf(3, [image('demo.png')]);
      let common = 0;
      while (common < held.length && held[common] === next[common]) common++;
      assert.equal(replies[1].stats.reusedTokens, common);
      assert.ok(common >= replies[0].stats.promptTokens, `${common} tokens reused of a first prompt of ${replies[0].stats.promptTokens}`);
      if (variant.template === 'hub') assert.equal(common, held.length);

      // From scratch: render the conversation so far, process it with all images, generate.
      for (const [turn, withImages] of [[1, [image('demo.png')]], [2, [image('demo.png'), image('photo.jpg')]]] as const) {
        const history = chat.messages.slice(0, 2 * turn + 1);
        const prompt = processor.applyChatTemplate(history, { addGenerationPrompt: true });
        const inputs = await processor.process({ text: prompt, images: [...withImages] });
        const out = await model.generate({ ...inputs, ...opts });
        const fresh = (out.tolist() as number[][])[0].slice(inputs.inputIds.dims[1]);
        assert.deepEqual(replies[turn].tokens, fresh, `turn ${turn + 1}`);
        assert.equal(replies[turn].stats.promptTokens, inputs.inputIds.dims[1]);
      }
      assert.equal(chat.messages.length, 6);
      chat.reset();
      assert.equal(chat.messages.length, 0);
    });
  });
}

describe('chat session: concurrent sends', () => {
  test('two asks at once run one after the other, in order, as if awaited in turn', async () => {
    const { dir } = VARIANTS[0];
    const model = await VipLlavaForConditionalGeneration.fromPretrained(dir);
    const processor = await VipLlavaProcessor.fromPretrained(dir);
    const opts = { maxNewTokens: 6, stopStrings: ['###'], tokenizer: processor.tokenizer };
    const first = { text: 'What is inside the red box?', images: [image('demo.png')] };
    const second = { text: 'And on the left?' };
    const sequential = new ChatSession(model, processor);
    const a = await sequential.ask(first, opts);
    const b = await sequential.ask(second, opts);
    const concurrent = new ChatSession(model, processor);
    const [c, d] = await Promise.all([concurrent.ask(first, opts), concurrent.ask(second, opts)]);
    assert.deepEqual([c.tokens, d.tokens], [a.tokens, b.tokens]);
    assert.deepEqual(concurrent.messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);
    assert.deepEqual(concurrent.messages, sequential.messages);
  });
});
