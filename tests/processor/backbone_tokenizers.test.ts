/**
 * The Phi-3 and Llama-3 tokenizers against transformers 5.18 / tokenizers (tools/make_backbone_fixtures.py):
 * Phi-3's added tokens (rstrip, a `</s>` that is not special) over the Llama-2 vocabulary, and a byte-level BPE
 * with Llama-3's split regex, ByteLevel decoder, ignore_merges, <|begin_of_text|> post-processor and 256
 * special tokens, whose config asks for a clean-up transformers skips for BPE.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { IncrementalDetokenizer } from '../../src/generation/detokenizer.js';
import { VipLlavaProcessor } from '../../src/processor/processor.js';
import { TINY_LLAMA3, TINY_PHI3 } from '../helpers/fixtures.js';
import { backboneTokenizerGoldens } from '../helpers/processor_goldens.js';

const goldens = backboneTokenizerGoldens();

for (const [name, dir] of [['tiny-phi3', TINY_PHI3], ['tiny-llama3', TINY_LLAMA3]] as const) {
  describe(`tokenizer: ${name}`, async () => {
    const { tokenizer } = await VipLlavaProcessor.fromPretrained(dir);
    const g = goldens[name];

    for (const c of g.cases) {
      test(`encode and decode ${JSON.stringify(c.text.slice(0, 48))}`, () => {
        assert.deepEqual(tokenizer.encode(c.text), c.ids);
        assert.deepEqual(tokenizer.encode(c.text, { addSpecialTokens: false }), c.no_special_ids);
        assert.deepEqual(tokenizer.convertIdsToTokens(c.ids), c.tokens);
        assert.equal(tokenizer.decode(c.ids), c.decoded);
        assert.equal(tokenizer.decode(c.ids, { skipSpecialTokens: true }), c.decoded_skip);
      });
    }

    test('decoding odd id runs: characters cut mid-byte, reversed, around special tokens', () => {
      for (const c of g.decode) {
        assert.equal(tokenizer.decode(c.ids), c.decoded, JSON.stringify(c.ids));
        assert.equal(tokenizer.decode(c.ids, { skipSpecialTokens: true }), c.decoded_skip, JSON.stringify(c.ids));
      }
    });

    test('padded batches, left and right', () => {
      assert.deepEqual(tokenizer.encodeBatch(g.batch.texts, { paddingSide: 'left' }), { inputIds: g.batch.left.input_ids, attentionMask: g.batch.left.attention_mask });
      assert.deepEqual(tokenizer.encodeBatch(g.batch.texts, { paddingSide: 'right' }), { inputIds: g.batch.right.input_ids, attentionMask: g.batch.right.attention_mask });
    });

    test('special tokens from the config files', () => {
      const s = g.special;
      assert.deepEqual(
        { bos: tokenizer.bosTokenId, eos: tokenizer.eosTokenId, pad: tokenizer.padTokenId, unk: tokenizer.unkTokenId, image: tokenizer.tokenToId('<image>'), vocab_size: tokenizer.vocabSize },
        s,
      );
    });

    test('streaming detokenization joins to the full decode', () => {
      for (const ids of [...g.cases.map((c) => c.ids), ...g.decode.map((d) => d.ids)]) {
        for (const skip of [true, false]) {
          const d = new IncrementalDetokenizer(tokenizer, { skipSpecialTokens: skip });
          const pieces = ids.map((id) => d.push(id));
          pieces.push(d.flush());
          assert.equal(pieces.join(''), tokenizer.decode(ids, { skipSpecialTokens: skip }), JSON.stringify(ids));
        }
      }
    });
  });
}

test('tiny-llama3 is laid out as Llama-3: ignore_merges, and its 256 special tokens right after the BPE vocabulary', () => {
  const json = JSON.parse(readFileSync(join(TINY_LLAMA3, 'tokenizer.json'), 'utf8')) as { model: { ignore_merges: boolean; vocab: Record<string, number> }; added_tokens: Array<{ id: number; content: string; special: boolean }> };
  assert.equal(json.model.ignore_merges, true);
  const first = Object.keys(json.model.vocab).length;
  const special = json.added_tokens.filter((t) => t.content.startsWith('<|'));
  assert.equal(special.length, 256);
  assert.deepEqual(special.map((t) => t.id), Array.from({ length: 256 }, (_, i) => first + i));
  assert.deepEqual([0, 1, 6, 7, 9].map((i) => special[i].content), ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>']);
});
