/** Chat templates and VipLlavaProcessor against transformers' LlavaProcessor (PIL image backend). */
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { VipLlavaProcessor } from '../../src/processor/processor.js';
import { BUILTIN_TEMPLATES, LLAVA_SYSTEM_PROMPT, type ChatMessage } from '../../src/processor/chat_template.js';
import { InputError, ConfigError } from '../../src/errors.js';
import { TINY_LLAMA, VARIANTS } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/checkpoints.js';
import { CONVERSATIONS, image, processorGoldens } from '../helpers/processor_goldens.js';

const goldens = processorGoldens();
const conversations = CONVERSATIONS as unknown as Record<string, ChatMessage[]>;

describe('chat templates', () => {
  for (const variant of VARIANTS) {
    test(`${variant.name}: the checkpoint's template renders exactly as transformers renders it`, async () => {
      const p = await VipLlavaProcessor.fromPretrained(variant.dir);
      for (const [name, messages] of Object.entries(conversations)) {
        const want = goldens.templates[variant.name][name];
        assert.equal(p.applyChatTemplate(messages, { addGenerationPrompt: true }), want.generation, name);
        assert.equal(p.applyChatTemplate(messages), want.no_generation, name);
        assert.equal(p.applyChatTemplate(messages, { addGenerationPrompt: true, template: variant.template }), want.generation, `${name} (built-in)`);
      }
    });
  }

  test('the seed document example', async () => {
    const p = await VipLlavaProcessor.fromPretrained(TINY_LLAMA);
    assert.equal(
      p.applyChatTemplate(conversations.seed_doc, { addGenerationPrompt: true }),
      '###Human: <image>\nWhat’s shown in this image?###Assistant: This image shows a red stop sign.###Human: Describe the image in more details.###Assistant:',
    );
  });

  test("the checkpoint's template is found where transformers looks: .jinja, chat_template.json, processor_config.json, tokenizer_config.json", async () => {
    const dir = tempDir('tmpl');
    for (const f of readdirSync(TINY_LLAMA)) copyFileSync(join(TINY_LLAMA, f), join(dir, f));
    const read = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
    const render = async () => {
      const p = await VipLlavaProcessor.fromPretrained(dir);
      return [p.settings.chatTemplate?.source.split('/').pop(), p.applyChatTemplate([{ role: 'user', content: 'x' }])];
    };
    writeFileSync(join(dir, 'chat_template.jinja'), 'J{{ messages[0].content[0].text }}');
    assert.deepEqual(await render(), ['chat_template.jinja', 'Jx']);
    rmSync(join(dir, 'chat_template.jinja'));
    assert.deepEqual(await render(), ['chat_template.json', '###Human: x']);
    rmSync(join(dir, 'chat_template.json'));
    writeFileSync(join(dir, 'processor_config.json'), JSON.stringify({ ...read('processor_config.json'), chat_template: 'P{{ messages[0].content[0].text }}' }));
    assert.deepEqual(await render(), ['processor_config.json', 'Px']);
    const { chat_template: _, ...pc } = read('processor_config.json');
    writeFileSync(join(dir, 'processor_config.json'), JSON.stringify(pc));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...read('tokenizer_config.json'), chat_template: 'T{{ messages[0].content[0].text }}' }));
    assert.deepEqual(await render(), ['tokenizer_config.json', 'Tx']);
    const { chat_template: __, ...tc } = read('tokenizer_config.json');
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tc));
    assert.deepEqual(await render(), [undefined, '###Human: x'], 'none: the built-in hub template');
  });

  test('llava_v1, the format ViP-LLaVA was trained with', async () => {
    const p = await VipLlavaProcessor.fromPretrained(TINY_LLAMA);
    const v1 = (m: ChatMessage[]) => p.applyChatTemplate(m, { addGenerationPrompt: true, template: 'llava_v1' });
    assert.equal(v1(conversations.single), `${LLAVA_SYSTEM_PROMPT} USER: <image>\nWhat is shown in this image? ASSISTANT:`);
    assert.equal(
      v1(conversations.seed_doc),
      `${LLAVA_SYSTEM_PROMPT} USER: <image>\nWhat’s shown in this image? ASSISTANT: This image shows a red stop sign.</s>USER: Describe the image in more details. ASSISTANT:`,
    );
    assert.equal(v1([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }]), 'Be brief. USER: Hi ASSISTANT:');
  });

  test('string content, Jinja source, and errors', async () => {
    const p = await VipLlavaProcessor.fromPretrained(TINY_LLAMA);
    assert.equal(p.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true }), '###Human: Hi###Assistant:');
    assert.equal(p.applyChatTemplate([{ role: 'user', content: 'x' }], { template: '{{ messages[0].content[0].text | upper }}' }), 'X');
    assert.throws(() => p.applyChatTemplate(conversations.single, { template: 'chatml' }), /unknown chat template "chatml" \(built in: hub, llava_v1/);
    assert.throws(() => p.applyChatTemplate([{ role: 'user', content: [{ type: 'video' } as never] }]), /messages\[0\]\.content\[0\] must have type "text" or "image"/);
    assert.throws(() => p.applyChatTemplate([{ role: 'user', content: 'x' }], { template: '{% if %}' }), InputError);
    assert.ok(BUILTIN_TEMPLATES.hub.includes('###Human: '));
  });
});

describe('VipLlavaProcessor', () => {
  for (const variant of VARIANTS) {
    test(`${variant.name}: ids, mask and pixel values equal transformers', single and batched`, async () => {
      const p = await VipLlavaProcessor.fromPretrained(variant.dir);
      for (const c of [goldens.processor[variant.name].single, goldens.processor[variant.name].batch]) {
        const out = await p.process({ text: c.text, images: c.images.map(image) });
        assert.deepEqual(out.inputIds.tolist(), c.input_ids);
        assert.deepEqual(out.attentionMask.tolist(), c.attention_mask);
        assert.equal(out.inputIds.dtype, 'int64');
        assert.deepEqual(out.pixelValues!.dims, c.pixel_values_shape);
      }
    });
  }

  test('image tokens per image: 576 for 336 px / patch 14, from processor_config.json or else config.json', async () => {
    const dir = tempDir('proc');
    for (const f of readdirSync(TINY_LLAMA)) copyFileSync(join(TINY_LLAMA, f), join(dir, f));
    const pre = JSON.parse(readFileSync(join(dir, 'preprocessor_config.json'), 'utf8'));
    writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify({ ...pre, size: { shortest_edge: 336 }, crop_size: { height: 336, width: 336 } }));
    const p = await VipLlavaProcessor.fromPretrained(dir);
    assert.deepEqual([p.patchSize, p.numAdditionalImageTokens, p.visionFeatureSelectStrategy, p.imageTokensPerImage], [14, 1, 'default', 576]);
    // the attributes are settable, as transformers' are, and LlavaProcessor's rule applies: only "default" drops one
    p.visionFeatureSelectStrategy = 'full';
    assert.equal(p.imageTokensPerImage, 577);
    p.numAdditionalImageTokens = 0;
    p.visionFeatureSelectStrategy = null;
    assert.equal(p.imageTokensPerImage, 576);
    p.patchSize = 28;
    assert.equal(p.imageTokensPerImage, 144);
    const ids = await p.process({ text: '<image>', images: image('photo.jpg') });
    assert.equal(ids.inputIds.dims[1], 1 + 144, 'the processor expands by its attributes');
    // saved without them (before transformers 4.47): the model config's count, with the warning transformers gave
    rmSync(join(dir, 'processor_config.json'));
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => w.code === 'VIPLLAVA_PROCESSOR_ATTRIBUTES' && warnings.push(w.message);
    process.on('warning', onWarning);
    const legacy = await VipLlavaProcessor.fromPretrained(dir);
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    assert.equal(legacy.patchSize, null);
    assert.equal(legacy.imageTokensPerImage, 16, 'from config.json (56 px / 14)');
    assert.match(warnings[0] ?? '', /has no patch_size: add processor\.patch_size = 14, processor\.num_additional_image_tokens = 1 and processor\.vision_feature_select_strategy = "default"/);
  });

  test('tokenizer.paddingSide is settable, as the docs advise for batched generation', async () => {
    const p = await VipLlavaProcessor.fromPretrained(TINY_LLAMA);
    p.tokenizer.paddingSide = 'right';
    assert.deepEqual((await p.process({ text: ['Hello world', 'Hi'] })).attentionMask.tolist(), [[1, 1, 1], [1, 1, 0]]);
    p.tokenizer.paddingSide = 'left';
    assert.deepEqual((await p.process({ text: ['Hello world', 'Hi'] })).attentionMask.tolist(), [[1, 1, 1], [0, 1, 1]]);
    assert.throws(() => (p.tokenizer.paddingSide = 'middle' as 'left'), /paddingSide must be "left" or "right", got "middle"/);
  });

  test('right padding, no images, pad mode', async () => {
    const p = await VipLlavaProcessor.fromPretrained(TINY_LLAMA);
    const right = await p.process({ text: ['Hello world', 'Hi'], paddingSide: 'right' });
    assert.deepEqual(right.attentionMask.tolist(), [[1, 1, 1], [1, 1, 0]]);
    assert.equal(right.pixelValues, undefined);
    const padded = await p.process({ text: '<image>x', images: image('wide.png'), imageAspectRatio: 'pad' });
    const cropped = await p.process({ text: '<image>x', images: image('wide.png') });
    assert.notDeepEqual(padded.pixelValues!.toFloat32(), cropped.pixelValues!.toFloat32());
  });

  test('a mismatch between <image> markers and images is refused before the model runs', async () => {
    const p = await VipLlavaProcessor.fromPretrained(TINY_LLAMA);
    await assert.rejects(p.process({ text: '<image> and <image>', images: [image('photo.jpg')] }), /the text has 2 <image> markers but 1 image was given/);
    await assert.rejects(p.process({ text: ['a', 'b'], images: [image('photo.jpg')] }), /the text has 0 <image> markers but 1 image was given/);
    await assert.rejects(p.process({ text: '<image>', images: [] }), /the text has 1 <image> marker but 0 images were given/);
    await assert.rejects(p.process({ text: [] }), /text must be a string or a non-empty array/);
    await assert.rejects(p.process({ text: '<image>', images: image('missing.png') }), /missing\.png: cannot read image \(ENOENT\)/);
  });

  test('a checkpoint without a processor or an image token', async () => {
    const dir = tempDir('noproc');
    for (const f of ['config.json', 'tokenizer.json']) copyFileSync(join(TINY_LLAMA, f), join(dir, f));
    await assert.rejects(VipLlavaProcessor.fromPretrained(dir), /has no preprocessor_config\.json \(nor an image_processor in processor_config\.json\)/);
    copyFileSync(join(TINY_LLAMA, 'preprocessor_config.json'), join(dir, 'preprocessor_config.json'));
    writeFileSync(join(dir, 'processor_config.json'), JSON.stringify({ image_token: '<img>', patch_size: 14 }));
    await assert.rejects(VipLlavaProcessor.fromPretrained(dir), (e: unknown) => e instanceof ConfigError && /the tokenizer has no "<img>" token/.test(e.message));
    rmSync(join(dir, 'tokenizer.json'));
    await assert.rejects(VipLlavaProcessor.fromPretrained(dir), /vipllava-noproc-\w+ has no tokenizer\.json \(nor a SentencePiece tokenizer\.model\)/);
  });
});
