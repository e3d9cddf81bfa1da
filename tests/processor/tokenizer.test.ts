/** Token ids and decoded text against transformers 5.18 for both tokenizer.json flavours (merges as "a b"
 *  strings in tiny-llama, as ["a","b"] pairs in tiny-mistral, written by 5.18's save_pretrained). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { VipLlavaProcessor } from '../../src/processor/processor.js';
import { VipLlavaTokenizer } from '../../src/processor/tokenizer.js';
import { IncrementalDetokenizer } from '../../src/generation/detokenizer.js';
import { ConfigError } from '../../src/errors.js';
import { VARIANTS } from '../helpers/fixtures.js';
import { tokenizerGoldens } from '../helpers/processor_goldens.js';

const goldens = tokenizerGoldens();

// tiny-llama and tiny-mistral (Llama-2 vocabulary, <image> 32000, <pad> 32001); backbone_tokenizers.test.ts has the others.
for (const variant of VARIANTS.filter((v) => v.name in goldens)) {
  describe(`tokenizer: ${variant.name}`, async () => {
    const merges = (JSON.parse(readFileSync(join(variant.dir, 'tokenizer.json'), 'utf8')) as { model: { merges: unknown[] } }).model.merges[0];
    const { tokenizer } = await VipLlavaProcessor.fromPretrained(variant.dir);
    const g = goldens[variant.name];

    test(`merges are stored as ${typeof merges === 'string' ? '"a b" strings' : '["a", "b"] pairs'}`, () => {
      assert.equal(typeof merges === 'string', variant.name === 'tiny-llama');
    });

    for (const c of g.cases) {
      test(`encode and decode ${JSON.stringify(c.text.slice(0, 40))}`, () => {
        assert.deepEqual(tokenizer.encode(c.text), c.ids);
        assert.deepEqual(tokenizer.encode(c.text, { addSpecialTokens: false }), c.no_special_ids);
        assert.deepEqual(tokenizer.convertIdsToTokens(c.ids), c.tokens);
        assert.equal(tokenizer.decode(c.ids), c.decoded);
        assert.equal(tokenizer.decode(c.ids, { skipSpecialTokens: true }), c.decoded_skip);
      });
    }

    test('decoding odd id sequences (broken UTF-8 gives one U+FFFD per byte, as the Rust decoder does)', () => {
      for (const c of g.decode) {
        assert.equal(tokenizer.decode(c.ids), c.decoded, JSON.stringify(c.ids));
        assert.equal(tokenizer.decode(c.ids, { skipSpecialTokens: true }), c.decoded_skip);
      }
      assert.equal(tokenizer.decode([]), '');
      assert.equal(tokenizer.decode([1, 2], { skipSpecialTokens: true }), '');
      assert.equal(tokenizer.decode(new BigInt64Array([15043n, 3186n])), 'Hello world');
    });

    test('padded batches, left and right', () => {
      assert.deepEqual(tokenizer.encodeBatch(g.batch.texts, { paddingSide: 'left' }), { inputIds: g.batch.left.input_ids, attentionMask: g.batch.left.attention_mask });
      assert.deepEqual(tokenizer.encodeBatch(g.batch.texts, { paddingSide: 'right' }), { inputIds: g.batch.right.input_ids, attentionMask: g.batch.right.attention_mask });
      assert.throws(() => tokenizer.encodeBatch(g.batch.texts, { padding: false }), /different lengths; pass padding: true/);
    });

    test('special tokens from the config files', () => {
      assert.equal(tokenizer.bosTokenId, 1);
      assert.equal(tokenizer.eosTokenId, 2);
      assert.equal(tokenizer.padTokenId, 32001);
      assert.equal(tokenizer.unkTokenId, 0);
      assert.equal(tokenizer.tokenToId('<image>'), 32000);
      assert.equal(tokenizer.vocabSize, 32002);
    });

    test('streaming detokenization: pieces join to the full decode, never ending in half a character', () => {
      const sequences = [...g.cases.map((c) => c.ids), ...g.decode.map((d) => d.ids)];
      for (const ids of sequences) {
        for (const skip of [true, false]) {
          const d = new IncrementalDetokenizer(tokenizer, { skipSpecialTokens: skip });
          const pieces = ids.map((id) => d.push(id));
          pieces.push(d.flush());
          assert.equal(pieces.join(''), tokenizer.decode(ids, { skipSpecialTokens: skip }), JSON.stringify(ids));
          // Only the final flush may carry U+FFFD, and only when the ids end mid-character.
          assert.ok(pieces.slice(0, -1).every((p) => !p.includes('\ufffd')), JSON.stringify(pieces));
        }
      }
      // The llama emoji arrives over four byte tokens and is released whole.
      const d = new IncrementalDetokenizer(tokenizer);
      const out = [953, 29877, 2397, 29871, 243, 162, 169, 156, 322].map((id) => d.push(id));
      assert.deepEqual(out, ['em', 'o', 'ji', ' ', '', '', '', '🦙', ' and']);
    });
  });
}

test('a tokenizer.json that is not a tokenizer', () => {
  assert.throws(() => new VipLlavaTokenizer({ model: { type: 'Nope' } }, {}, {}, '/x/tokenizer.json'), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /^\/x\/tokenizer\.json: cannot build the tokenizer/);
    return true;
  });
});
