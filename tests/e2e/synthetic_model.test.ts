/**
 * The shipped model (models/vip-llava-synthetic) answers held-out questions of its synthetic world, through the
 * library and through the CLI with no --model, and its answers are transformers' answers.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { VipLlavaForConditionalGeneration, VipLlavaProcessor } from '../../src/index.node.js';
import { answer, loadHeldout, promptedScene, type HeldoutSplit } from '../../src/evaluation/heldout.js';
import { DEFAULT_MODEL, SYNTHETIC_DATA } from '../../src/package_paths.node.js';
import { ROOT } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/checkpoints.js';
import { rmSync } from 'node:fs';
import { webgpuEngine } from '../../src/backend/webgpu/webgpu_engine.node.js';

const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT });

describe('the shipped synthetic model', () => {
  let split: HeldoutSplit;
  before(() => {
    split = loadHeldout(SYNTHETIC_DATA);
  });

  test('transformers answers its held-out split with at least 90% accuracy (the golden data is sound)', () => {
    assert.ok(split.reference, 'transformers_answers.json is missing');
    assert.equal(split.items.length, 240);
    const right = split.items.filter((it, i) => split.reference!.answers[i] === it.answer).length;
    assert.ok(right / split.items.length >= 0.9, `transformers: ${right}/${split.items.length}`);
  });

  test('every held-out scene is drawn with the same pixels Pillow drew for transformers', async () => {
    const expected = split.reference!.drawn_sha256;
    assert.equal(expected.length, split.items.length);
    for (const [i, item] of split.items.entries()) {
      const drawn = await promptedScene(SYNTHETIC_DATA, item);
      assert.equal(createHash('sha256').update(drawn.data).digest('hex'), expected[i], `item ${i} (${item.prompt_shape})`);
    }
  });

  test('the library answers one question of every type and prompt shape as transformers does', async () => {
    const model = await VipLlavaForConditionalGeneration.fromPretrained(DEFAULT_MODEL);
    const processor = await VipLlavaProcessor.fromPretrained(DEFAULT_MODEL);
    // The first item of each question type, then of each prompt shape not yet covered.
    const picked: number[] = [];
    for (const key of ['type', 'prompt_shape'] as const) {
      for (const value of new Set(split.items.map((it) => it[key]))) {
        if (picked.some((i) => split.items[i][key] === value)) continue;
        picked.push(split.items.findIndex((it) => it[key] === value));
      }
    }
    assert.ok(picked.length >= 5);
    for (const i of picked) {
      const item = split.items[i];
      const text = await answer(model, processor, await promptedScene(SYNTHETIC_DATA, item), item.question);
      assert.equal(text, split.reference!.answers[i], `item ${i}: ${item.question}`);
      assert.equal(text, item.answer, `item ${i}: ${item.question}`);
    }
  });

  test('the CLI uses it when --model is left out, with a prompt drawn from --box', () => {
    const scene = join(ROOT, 'docs', 'images', 'shapes.png');
    const colour = cli(['generate', '--image', scene, '--box', '132,66,200,132', '--prompt', 'What colour is the shape within the red rectangle?']);
    assert.equal(colour.status, 0, colour.stderr);
    assert.equal(colour.stdout, 'blue\n');
    const shape = cli(['generate', '--image', scene, '--box', '40,33,112,105', '--shape', 'ellipse', '--color', 'lime', '--prompt', 'What shape is {prompt}?']);
    assert.equal(shape.status, 0, shape.stderr);
    assert.equal(shape.stdout, 'square\n');
  });

  test('engine flags: the reference engine, bf16 and 8-bit weights (4-bit too on WebGPU), an fp16 KV cache give the same answer; bad values are refused', () => {
    const scene = join(ROOT, 'docs', 'images', 'shapes.png');
    const ask = ['generate', '--image', scene, '--box', '132,66,200,132', '--prompt', 'What colour is the shape within the red rectangle?'];
    const cache = tempDir('cli-cache');
    const runs = [['--engine', 'reference'], ['--engine', 'native', '--dtype', 'bfloat16'], ['--engine', 'native', '--dtype', 'q8_0', '--threads', '1', '--kv-cache', 'float16']];
    if (webgpuEngine.unavailable() === null) runs.push(['--device', 'webgpu', '--dtype', 'q8_0'], ['--device', 'webgpu', '--dtype', 'q4_0', '--kv-cache', 'float16']);
    for (const flags of runs) {
      const r = spawnSync(process.execPath, [CLI, ...ask, ...flags], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, VIPLLAVA_CACHE_DIR: cache } });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'blue\n', flags.join(' '));
    }
    rmSync(cache, { recursive: true, force: true });
    assert.match(cli([...ask, '--dtype', 'q9']).stderr, /--dtype must be one of auto, float32, float16, bfloat16, q8_0, q4_0, got "q9"/);
    assert.match(cli([...ask, '--threads', '0']).stderr, /--threads must be a positive integer, got "0"/);
    assert.match(cli([...ask, '--kv-cache', 'int8']).stderr, /--kv-cache must be one of float32, float16, got "int8"/);
    assert.match(cli([...ask, '--engine', 'reference', '--dtype', 'q4_0']).stderr, /cannot hold weights of dtype q4_0 \(quantised weights need the native or WebGPU engine\)/);
  });

  test('vipllava eval reports accuracy next to transformers', () => {
    const r = cli(['eval', '--limit', '3', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { items: number; rows: Array<{ group: string; items: number; ours: number; agreement: number }>; answers: string[] };
    assert.equal(report.items, 3);
    assert.deepEqual(report.answers, split.reference!.answers.slice(0, 3));
    const all = report.rows.find((row) => row.group === 'all')!;
    assert.equal(all.agreement, 1);
    assert.ok(report.rows.some((row) => row.group.startsWith('type: ')) && report.rows.some((row) => row.group.startsWith('prompt: ')));
    assert.match(r.stderr, /^ {3}1 {2}What colour is the shape pointed to by the gold arrow\? -> "green" right$/m);
  });

  test('eval names a missing split', () => {
    const r = cli(['eval', '--data', join(ROOT, 'no-such-dir')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no held-out split at .*no-such-dir/);
  });
});
