/** `vipllava draw` and the visual-prompt flags of `generate`. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { drawVisualPrompts } from '../../src/visual_prompts/draw.js';
import { loadImage } from '../../src/processor/image.js';
import { VipLlavaForConditionalGeneration } from '../../src/index.node.js';
import { VipLlavaProcessor } from '../../src/processor/processor.js';
import { ROOT, TINY_LLAMA } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/checkpoints.js';
import { image } from '../helpers/processor_goldens.js';
import { withoutDawnNotes } from '../helpers/dawn.js';

const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, [CLI, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => ok({ code: code ?? -1, stdout, stderr }));
  });
}

describe('vipllava draw', () => {
  test('draws the prompts as the library does and names them', async () => {
    const out = join(tempDir('draw'), 'out.png');
    const r = await run(['draw', '--image', image('photo.jpg'), '--box', '200,120,420,330', '--shape', 'ellipse', '--box', '30,30,120,100', '--shape', 'arrow', '--seed', '4', '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    const expected = drawVisualPrompts(await loadImage(image('photo.jpg')), [
      { shape: 'ellipse', box: [200, 120, 420, 330], color: 'red' },
      { shape: 'arrow', box: [30, 30, 120, 100] },
    ], { seed: 4, style: 'eval' });
    assert.equal(r.stdout, `visual prompt 1: within the red ellipse\nvisual prompt 2: ${expected.prompts[1].phrase}\n`);
    assert.deepEqual((await loadImage(out)).data, expected.image.data);
  });

  test('errors are one line', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--box', '1,2,3'], /--box "1,2,3" must be 4 comma-separated numbers/],
      [['--box', '900,10,1000,50'], /box \[900, 10, 1000, 50\] lies outside the 640×480 image/],
      [['--box', '1,2,30,40', '--shape', 'hexagon'], /--shape "hexagon" is not one of rectangle, ellipse/],
      [['--box', '1,2,30,40', '--color', 'mauve'], /unknown colour "mauve"/],
      [['--shape', 'arrow'], /--shape and --color need a region/],
      [[], /draw needs a region/],
    ];
    for (const [flags, message] of cases) {
      const r = await run(['draw', '--image', image('photo.jpg'), '-o', '/tmp/never.png', ...flags]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr.split('\n')[0], message);
    }
  });
});

describe('generate with visual prompts', () => {
  test('{prompt} becomes the phrase; the image is drawn and padded to a square, as ViP-LLaVA was trained', async () => {
    const r = await run(['generate', '--model', TINY_LLAMA, '--image', image('wide.png'), '--box', '40,60,200,240', '--prompt', 'What is {prompt}?', '--max-new-tokens', '6', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.prompt, '###Human: <image>\nWhat is within the red rectangle?###Assistant:');
    assert.equal(withoutDawnNotes(r.stderr), '', 'no crop warning in pad mode');
    // The same through the library.
    const { image: drawn } = drawVisualPrompts(await loadImage(image('wide.png')), [{ shape: 'rectangle', box: [40, 60, 200, 240], color: 'red' }], { seed: 0, style: 'eval' });
    const processor = await VipLlavaProcessor.fromPretrained(TINY_LLAMA);
    const model = await VipLlavaForConditionalGeneration.fromPretrained(TINY_LLAMA);
    const inputs = await processor.process({ text: out.prompt, images: [drawn], imageAspectRatio: 'pad' });
    const ids = (await model.generate({ ...inputs, maxNewTokens: 6, stopStrings: ['###'], tokenizer: processor.tokenizer })).tolist() as number[][];
    assert.deepEqual(out.new_ids, ids[0].slice(inputs.inputIds.dims[1]));
  });

  test('choosing crop warns when a prompt would be cut away', async () => {
    const r = await run(['generate', '--model', TINY_LLAMA, '--image', image('wide.png'), '--box', '40,60,200,240', '--image-aspect-ratio', 'crop', '--prompt', 'What is {prompt}?', '--max-new-tokens', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^vipllava: warning: visual prompt 1 \(within the red rectangle\) reaches outside the centre crop \[362, 0, 661, 299\]/);
  });

  test('{prompt} without a region is an error', async () => {
    const r = await run(['generate', '--model', TINY_LLAMA, '--image', image('wide.png'), '--prompt', 'What is {prompt}?']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\{prompt\} in the prompt, but no visual prompt was given/);
  });
});
