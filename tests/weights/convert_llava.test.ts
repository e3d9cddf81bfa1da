/**
 * `vipllava convert` of an original ViP-LLaVA checkpoint (tests/fixtures/tiny-vip-llava-7b, and the Llama-3 and
 * Phi-3 variants; their tower tests/fixtures/tiny-clip-tower) into a complete llava-hf one, as transformers'
 * convert_vipllava_weights_to_hf.py does: it loads as a plain VipLlava checkpoint and gives the original-format
 * load's logits bit for bit over the original ids; converting again changes no byte; its tokenizer encodes text as
 * the original's does; its processor pads images as the original's when asked to, and differs from
 * tokenizer_image_token only where LlavaProcessor does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { convertCheckpoint, VipLlavaForConditionalGeneration, VipLlavaProcessor } from '../../src/index.node.js';
import { ConfigError } from '../../src/errors.js';
import { FileSource } from '../../src/io/file_source.node.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { hfVocabulary } from '../../src/weights/llava_hf_files.js';
import { SafetensorsFile } from '../../src/weights/safetensors.js';
import { tempDir } from '../helpers/checkpoints.js';
import { FIXTURES, loadGoldenTensors, readJsonFixture, ROOT } from '../helpers/fixtures.js';

const CHECKPOINT = join(FIXTURES, 'tiny-vip-llava-7b');
const TOWER = join(FIXTURES, 'tiny-clip-tower');
const DEMO = join(FIXTURES, 'images', 'demo.png');

const meta = readJsonFixture<{ cases: Array<{ prompt: string; input_ids: number[] }> }>('goldens', 'tiny-vip-llava-7b.json');
const readJson = (dir: string, file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;


describe('convert: the original ViP-LLaVA format → llava-hf', () => {
  let out: string;
  before(async () => {
    out = tempDir('llava-converted');
    await convertCheckpoint(CHECKPOINT, out, { visionTower: TOWER });
  });

  test('writes a VipLlava config with <image> at 32000, <pad> at 32001 and the vocabulary padded to 32064', () => {
    const config = readJson(out, 'config.json');
    assert.equal(config.model_type, 'vipllava');
    assert.equal(config.image_token_index, 32000);
    assert.equal(config.pad_token_id, 32001);
    assert.deepEqual(config.vision_feature_layers, [-2, -5, -8, -11, 6]);
    assert.equal((config.text_config as Record<string, unknown>).vocab_size, 32064);
    assert.equal((config.vision_config as Record<string, unknown>).num_hidden_layers, 10);
    assert.match(readFileSync(join(out, 'config.json'), 'utf8'), /"initializer_factor": 1\.0,/, 'the tower config\'s floats stay floats');
    assert.deepEqual(readJson(out, 'processor_config.json'), { image_token: '<image>', num_additional_image_tokens: 1, patch_size: 14, processor_class: 'LlavaProcessor', vision_feature_select_strategy: 'default' });
    assert.deepEqual(readJson(out, 'preprocessor_config.json').crop_size, { height: 28, width: 28 });
    assert.equal(readJson(out, 'special_tokens_map.json').pad_token, '<pad>');
  });

  test('every tensor in the hub layout, the tower\'s included; embed_tokens and lm_head grown with the embeddings\' mean row', async () => {
    const file = await SafetensorsFile.open(new FileSource(join(out, 'model.safetensors')));
    try {
      const keys = [...file.entries.keys()];
      assert.ok(keys.every((k) => /^(language_model\.(model|lm_head)|vision_tower\.vision_model|multi_modal_projector)\./.test(k)), keys.join(' '));
      assert.ok(keys.includes('vision_tower.vision_model.encoder.layers.9.mlp.fc2.bias'));
      assert.ok(keys.includes('vision_tower.vision_model.post_layernorm.weight'), 'a parameter of transformers\' VipLlava');
      const embed = await file.read('language_model.model.embed_tokens.weight');
      const head = file.entries.get('language_model.lm_head.weight')!;
      assert.deepEqual([embed.dtype, embed.dims, head.dtype, head.shape], ['float16', [32064, 32], 'F16', [32064, 32]]);
      const rows = embed.toFloat32();
      const mean = Array.from({ length: 32 }, (_, c) => {
        let s = 0;
        for (let r = 0; r < 32000; r++) s += rows[r * 32 + c];
        return s / 32000;
      });
      for (const r of [32000, 32001, 32063]) {
        const row = Array.from(rows.subarray(r * 32, (r + 1) * 32));
        row.forEach((x, c) => assert.ok(Math.abs(x - mean[c]) <= 1e-3 * Math.max(1, Math.abs(mean[c])), `row ${r}, column ${c}: ${x} vs ${mean[c]}`));
      }
    } finally {
      await file.close();
    }
  });

  test('<image> and <pad> are the converted tokenizer\'s added tokens, <pad> its pad token', async () => {
    const converted = await VipLlavaProcessor.fromPretrained(out);
    assert.deepEqual([converted.tokenizer.tokenToId('<image>'), converted.tokenizer.tokenToId('<pad>'), converted.tokenizer.padTokenId], [32000, 32001, 32001]);
  });

  test('the processor prompts as the original eval: its template, pad mode\'s pixels; LlavaProcessor splits "<image>\\n" as the -hf conversion does', async () => {
    const converted = await VipLlavaProcessor.fromPretrained(out);
    const original = await VipLlavaProcessor.fromPretrained(CHECKPOINT, { visionTower: TOWER });
    const c = meta.cases[0];
    assert.match(converted.settings.chatTemplate!.source, /chat_template\.json$/);
    const messages = [{ role: 'user', content: [{ type: 'image' as const }, { type: 'text' as const, text: 'What is within the red rectangle?' }] }];
    assert.equal(converted.applyChatTemplate(messages, { addGenerationPrompt: true }), c.prompt);
    const a = await converted.process({ text: c.prompt, images: [DEMO], imageAspectRatio: 'pad' });
    const b = await original.process({ text: c.prompt, images: [DEMO] });
    assert.deepEqual(a.pixelValues!.data, b.pixelValues!.data, 'imageAspectRatio "pad" is the original\'s expand2square');
    // tokenizer_image_token encodes "\n…" after the image on its own, with SentencePiece's dummy prefix "▁" (29871)
    const ids = Array.from(a.inputIds.data, Number);
    const after = ids.lastIndexOf(32000) + 1;
    assert.deepEqual([...ids.slice(0, after), 29871, ...ids.slice(after)], c.input_ids);
  });

  test('the CLI converts with --vision-tower', () => {
    const dir = tempDir('llava-cli');
    const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'convert', '--model', CHECKPOINT, '--vision-tower', TOWER, '--out', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^194 tensors, 4\.3 MB in 1 shard at /);
    assert.ok(readFileSync(join(dir, 'model.safetensors')).equals(readFileSync(join(out, 'model.safetensors'))));
  });

  test('what does not fit is refused naming it, before anything is written', async () => {
    const dir = tempDir('llava-bad');
    for (const f of readdirSync(CHECKPOINT)) copyFileSync(join(CHECKPOINT, f), join(dir, f));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...readJson(CHECKPOINT, 'config.json'), vocab_size: 32001 }));
    const target = join(tempDir('llava-bad-out'), 'out');
    await assert.rejects(convertCheckpoint(dir, target, { visionTower: TOWER }), /^WeightsError: tensor "language_model\.model\.embed_tokens\.weight" has shape \[32000, 32\], not \[32001, 32\]/);
    assert.throws(() => readdirSync(target), /ENOENT/);
    const bpe = (vocab: Record<string, number>, added: Array<{ id: number; content: string }> = []) => ({ model: { type: 'BPE', vocab }, added_tokens: added });
    assert.throws(() => hfVocabulary(3, bpe({ a: 0, b: 1 }, [{ id: 2, content: '<image>' }]), 'x/tokenizer.json'), (e: Error) => e instanceof ConfigError && /^x\/tokenizer\.json: already has a "<image>" token \(id 2\)/.test(e.message));
    // Vicuna's rule; a tokenizer with its own <pad> (LLaVA's Llama-3 trainer adds one); rows beyond the tokenizer (Phi-3's) kept
    assert.deepEqual(hfVocabulary(2, bpe({ a: 0, b: 1 }), 't'), { original: 2, imageTokenId: 2, padTokenId: 3, addPad: true, padded: 64 });
    assert.deepEqual(hfVocabulary(2, bpe({ a: 0, b: 1 }, [{ id: 2, content: '<pad>' }]), 't'), { original: 2, imageTokenId: 3, padTokenId: 2, addPad: false, padded: 64 });
    assert.deepEqual(hfVocabulary(128, bpe({ a: 0, b: 1 }), 't'), { original: 128, imageTokenId: 2, padTokenId: 3, addPad: true, padded: 128 });
  });
});

/** Each original-format fixture with texts to tokenize: Vicuna's, and the Llama-3 / Phi-3 variants' golden texts. */
const VARIANTS = [
  { name: 'tiny-vip-llava-7b', texts: ['Hello world', ' leading space', 'What is within the red rectangle? ASSISTANT:', '日本語 and émoji 🙂\nnew line', meta.cases[0].prompt.replace('<image>\n', ''), '</s>USER: <s>x'] },
  { name: 'tiny-vip-llava-llama-3-8b', texts: null },
  { name: 'tiny-vip-llava-phi-3-mini', texts: null },
];

for (const v of VARIANTS) {
  const checkpoint = join(FIXTURES, v.name);
  const golden = readJsonFixture<{ cases: Array<{ input_ids: number[]; new_tokens?: number[] }>; tokenizer?: Array<{ text: string }> }>('goldens', `${v.name}.json`);

  describe(`convert ${v.name}: the converted checkpoint against the original-format load`, () => {
    let out: string;
    before(async () => {
      out = tempDir(`converted-${v.name}`);
      await convertCheckpoint(checkpoint, out, { visionTower: TOWER });
    });

    test('loads as a plain VipLlava checkpoint and gives the same logits bit for bit over the original ids', async () => {
      const converted = await VipLlavaForConditionalGeneration.fromPretrained(out);
      const original = await VipLlavaForConditionalGeneration.fromPretrained(checkpoint, { visionTower: TOWER });
      const vocab = original.config.text_config.vocab_size;
      const width = converted.config.text_config.vocab_size;
      const [from, to] = [original.config.image_token_index, converted.config.image_token_index];
      const pixels = (await loadGoldenTensors(`${v.name}.safetensors`)).get('pixel_values')!;
      const perImage = pixels.size / pixels.dims[0];
      let compared = 0;
      for (const [i, c] of golden.cases.entries()) {
        if (!c.new_tokens) continue;
        compared++;
        assert.ok(c.input_ids.includes(from));
        const ids = (image: number) => new Tensor('int64', BigInt64Array.from(c.input_ids, (t) => BigInt(t === from ? image : t)), [1, c.input_ids.length]);
        const pixelValues = new Tensor('float32', pixels.toFloat32().slice(i * perImage, (i + 1) * perImage), [1, ...pixels.dims.slice(1)]);
        const a = (await converted.forward({ inputIds: ids(to), pixelValues })).logits.toFloat32();
        const b = (await original.forward({ inputIds: ids(from), pixelValues })).logits.toFloat32();
        assert.deepEqual([a.length, b.length], [c.input_ids.length * width, c.input_ids.length * vocab]);
        for (let p = 0; p < c.input_ids.length; p++) {
          const row = a.subarray(p * width, p * width + vocab);
          const want = b.subarray(p * vocab, (p + 1) * vocab);
          const at = row.findIndex((x, j) => !Object.is(x, want[j]));
          assert.equal(at, -1, `case ${i}, position ${p}, id ${at}: ${row[at]} vs ${want[at]}`);
        }
      }
      assert.ok(compared >= 2, `${compared} cases with images`);
    });

    test("generates as the original-format load does: the eval's terminators and suppressed ids are in generation_config.json", async () => {
      const converted = await VipLlavaForConditionalGeneration.fromPretrained(out);
      const original = await VipLlavaForConditionalGeneration.fromPretrained(checkpoint, { visionTower: TOWER });
      assert.deepEqual([converted.generationConfig.eos_token_id].flat(), [original.generationConfig.eos_token_id].flat());
      const [from, to] = [original.config.image_token_index, converted.config.image_token_index];
      const suppressed = new Set(converted.generationConfig.suppress_tokens ?? []);
      assert.ok(suppressed.has(to), 'the image token is never generated');
      for (let id = 0; id < Math.min(from, original.config.text_config.vocab_size); id++) if (suppressed.has(id) && !(original.generationConfig.suppress_tokens ?? []).includes(id)) assert.fail(`id ${id} suppressed`);
      const pixels = (await loadGoldenTensors(`${v.name}.safetensors`)).get('pixel_values')!;
      const perImage = pixels.size / pixels.dims[0];
      for (const [i, c] of golden.cases.entries()) {
        if (!c.new_tokens) continue;
        const pixelValues = new Tensor('float32', pixels.toFloat32().slice(i * perImage, (i + 1) * perImage), [1, ...pixels.dims.slice(1)]);
        const out = await converted.generate({ inputIds: [c.input_ids.map((t) => (t === from ? to : t))], pixelValues, maxNewTokens: c.new_tokens.length });
        assert.deepEqual(Array.from(out.data, Number).slice(c.input_ids.length), c.new_tokens, `case ${i}`);
      }
    });

    test('converting the converted checkpoint again changes no byte', async () => {
      const again = tempDir(`converted-again-${v.name}`);
      await convertCheckpoint(out, again);
      assert.deepEqual(readdirSync(again).sort(), readdirSync(out).sort());
      for (const f of readdirSync(out)) assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(again, f))), f);
    });

    test('the converted tokenizer encodes text without images as the original does', async () => {
      const converted = await VipLlavaProcessor.fromPretrained(out);
      const original = await VipLlavaProcessor.fromPretrained(checkpoint, { visionTower: TOWER });
      const texts = v.texts ?? golden.tokenizer!.map((t) => t.text);
      for (const t of texts) {
        assert.deepEqual(converted.tokenizer.encode(t), original.tokenizer.encode(t), JSON.stringify(t));
        assert.deepEqual((await converted.process({ text: t })).inputIds.tolist(), (await original.process({ text: t })).inputIds.tolist(), JSON.stringify(t));
      }
      assert.equal(converted.imageTokensPerImage, original.imageTokensPerImage);
      assert.equal(converted.tokenizer.tokenToId('<image>'), readJson(out, 'config.json').image_token_index);
      const messages = [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'image' as const }, { type: 'text' as const, text: 'What is it?' }] },
        { role: 'assistant', content: 'A box.' },
        { role: 'user', content: 'And?' },
      ];
      assert.equal(converted.applyChatTemplate(messages, { addGenerationPrompt: true }), original.applyChatTemplate(messages, { addGenerationPrompt: true }), 'chat_template.json is the eval\'s template');
    });
  });
}
