/**
 * SentencePiece tokenizer.model files (the original ViP-LLaVA checkpoints ship no tokenizer.json): converted as
 * transformers 5.18 converts them, the ids and decodes must be transformers' for each tokenizer_config.json
 * variant (tools/make_sentencepiece_fixtures.py; the model has Llama-2's 32000 pieces).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { VipLlavaProcessor } from '../../src/processor/processor.js';
import { parseSentencePieceModel, tokenizerJsonFromSentencePiece } from '../../src/processor/sentencepiece.js';
import { FIXTURES, readJsonFixture } from '../helpers/fixtures.js';

interface Goldens {
  texts: string[];
  sentencepiece_ids: number[][];
  configs: Record<string, { tokenizer_config: Record<string, unknown>; ids: number[][]; no_special: number[][]; decoded: string[]; decoded_skip: string[]; pad_token_id: number | null; vocab_size: number }>;
}

const goldens = readJsonFixture<Goldens>('goldens', 'sentencepiece.json');
const MODEL = join(FIXTURES, 'sentencepiece', 'tokenizer.model');
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A folder holding only tokenizer.model and a tokenizer_config.json, plus what a processor needs besides a tokenizer. */
function folder(config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'vipllava-spm-'));
  dirs.push(dir);
  copyFileSync(MODEL, join(dir, 'tokenizer.model'));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'preprocessor_config.json'), readFileSync(join(FIXTURES, 'tiny-llama', 'preprocessor_config.json')));
  writeFileSync(join(dir, 'processor_config.json'), JSON.stringify({ image_token: '</s>', patch_size: 14 }));
  return dir;
}

describe('SentencePiece tokenizer.model', () => {
  for (const [name, g] of Object.entries(goldens.configs)) {
    test(`ids and decodes equal transformers' (${name}: ${JSON.stringify(g.tokenizer_config.legacy)} legacy, bos ${g.tokenizer_config.add_bos_token}, eos ${g.tokenizer_config.add_eos_token})`, async () => {
      const { tokenizer } = await VipLlavaProcessor.fromPretrained(folder(g.tokenizer_config));
      goldens.texts.forEach((text, i) => {
        const what = JSON.stringify(text);
        assert.deepEqual(tokenizer.encode(text), g.ids[i], what);
        assert.deepEqual(tokenizer.encode(text, { addSpecialTokens: false }), g.no_special[i], what);
        assert.equal(tokenizer.decode(g.ids[i]), g.decoded[i], what);
        assert.equal(tokenizer.decode(g.ids[i], { skipSpecialTokens: true }), g.decoded_skip[i], what);
      });
      assert.equal(tokenizer.padTokenId, g.pad_token_id);
      assert.equal(tokenizer.vocabSize, g.vocab_size);
    });
  }

  test('the pieces, scores and settings are read from the protobuf', () => {
    const m = parseSentencePieceModel(readFileSync(MODEL));
    assert.equal(m.pieces.length, 32000);
    assert.deepEqual(m.pieces.slice(0, 4).map((p) => [p.piece, p.type]), [['<unk>', 2], ['<s>', 3], ['</s>', 3], ['<0x00>', 6]]);
    assert.equal(m.pieces[260].score, -1);
    assert.equal(m.modelType, 'bpe');
    assert.ok(m.byteFallback && m.addDummyPrefix);
  });

  test('a file that is not a SentencePiece model is refused with its name', () => {
    assert.throws(() => parseSentencePieceModel(new Uint8Array([0x0a, 0x05, 1, 2]), 'x/tokenizer.model'), (e: Error) => e instanceof ConfigError && /x\/tokenizer\.model: truncated/.test(e.message));
    assert.throws(() => parseSentencePieceModel(new Uint8Array([0x0f]), 'x/tokenizer.model'), /not a SentencePiece model/);
    const unigram = { ...parseSentencePieceModel(readFileSync(MODEL)), modelType: 'unigram' };
    assert.throws(() => tokenizerJsonFromSentencePiece(unigram, {}, 'x/tokenizer.model'), /a SentencePiece unigram model; only BPE/);
  });
});
