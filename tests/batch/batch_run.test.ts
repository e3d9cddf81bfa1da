/**
 * `vipllava batch` on one machine: answers every item (the answer `vipllava generate` gives for the same image,
 * prompt and question), records bad items with their reason, reads CSV as JSONL; a run killed with SIGKILL and
 * restarted with the same --out ends with exactly the file an uninterrupted run writes, and a last line cut short
 * is written again.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { writeDataset } from '../helpers/batch_data.js';
import { tempDir } from '../helpers/checkpoints.js';
import { ROOT } from '../helpers/fixtures.js';
import { cliAnswer } from '../helpers/serve.js';

const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
/** The runs' processes use the default engine in every pass of the suite: they test the machinery, which is the same on each. */
const env = { ...process.env, VIPLLAVA_ENGINE: '', VIPLLAVA_DEVICE: '' };
const batch = (args: string[]) => spawnSync(process.execPath, [CLI, 'batch', ...args], { encoding: 'utf8', env });
const lines = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; answer?: string; error?: string });

describe('vipllava batch', () => {
  const dir = tempDir('batch');
  const data = writeDataset(dir, 40, [
    { id: 'missing-image', image: 'nowhere.png', question: 'What colour is the shape {prompt}?', visual_prompts: [{ shape: 'rectangle', box: [1, 2, 30, 40] }] },
    { id: 'bad-prompt', image: join(dir, '..', 'x.png'), question: 'q', visual_prompts: [{ shape: 'hexagon', box: [1, 2, 3, 4] }] },
  ]);
  // the second bad item's image exists, so its prompt is what fails
  copyFileSync(JSON.parse(readFileSync(data, 'utf8').split('\n')[0]).image as string, join(dir, '..', 'x.png'));
  const whole = join(dir, 'whole.jsonl');

  test('every item answered once, as generate answers it; bad items recorded with the reason', () => {
    const r = batch(['--data', data, '--out', whole, '--batch-size', '4']);
    assert.equal(r.status, 0, r.stderr);
    const out = lines(whole);
    assert.deepEqual(out.map((l) => l.id), [...Array.from({ length: 40 }, (_, i) => `item-${String(i).padStart(3, '0')}`), 'missing-image', 'bad-prompt']);
    assert.match(out[40].error!, /nowhere\.png: cannot read image \(ENOENT\)/);
    assert.match(out[41].error!, /hexagon/);
    assert.match(r.stderr, /42 items: 42 answered in this run \(2 failed\), 0 already in the results file; .* tokens\/s/);
    assert.match(r.stderr, /failed missing-image: /);
    const items = readFileSync(data, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { image: string; question: string; visual_prompts: Array<{ shape: string; box?: number[]; point?: number[] }> });
    for (const i of [0, 1, 3]) {
      const p = items[i].visual_prompts[0];
      const region = p.box ? ['--box', p.box.join(',')] : ['--point', p.point!.join(',')];
      const phrase = cliAnswer(['--image', items[i].image, ...region, '--shape', p.shape, '--prompt', items[i].question, '--max-new-tokens', '200']).answer;
      assert.equal(out[i].answer, phrase, `item ${i}`);
    }
    // the same run again adds nothing
    const again = batch(['--data', data, '--out', whole]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /0 answered in this run \(0 failed\), 42 already in the results file/);
    assert.equal(lines(whole).length, 42);
  });

  test('killed with SIGKILL and restarted: the same file as the uninterrupted run; a cut line is written again', async () => {
    const out = join(dir, 'killed.jsonl');
    const child = spawn(process.execPath, [CLI, 'batch', '--data', data, '--out', out, '--batch-size', '2'], { stdio: 'ignore', env });
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (existsSync(out) && statSync(out).size > 0 && readFileSync(out, 'utf8').split('\n').length > 8) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolve();
        }
      }, 5);
    });
    await new Promise((resolve) => child.once('exit', resolve));
    const partial = lines(out).length;
    assert.ok(partial > 0 && partial < 42, `killed after ${partial} lines`);
    // as if the kill had come in the middle of a write
    appendFileSync(out, '{"id":"item-0');
    const r = batch(['--data', data, '--out', out, '--batch-size', '3']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${partial} already in the results file`));
    assert.equal(readFileSync(out, 'utf8'), readFileSync(whole, 'utf8'));
  });

  test('CSV items give the JSONL items\' answers; bad datasets are refused by name', () => {
    const rows = readFileSync(data, 'utf8').trim().split('\n').slice(0, 6).map((l) => JSON.parse(l) as { id: string; image: string; question: string; visual_prompts: unknown });
    const csv = join(dir, 'items.csv');
    const cell = (s: string) => `"${s.replace(/"/g, '""')}"`;
    writeFileSync(csv, ['id,image,question,visual_prompts', ...rows.map((r) => [r.id, r.image, r.question, JSON.stringify(r.visual_prompts)].map(cell).join(','))].join('\n'));
    const out = join(dir, 'csv.jsonl');
    const r = batch(['--data', csv, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(lines(out), lines(whole).slice(0, 6));

    const dup = join(dir, 'dup.jsonl');
    writeFileSync(dup, `${JSON.stringify({ id: 'a', image: 'x.png', question: 'q' })}\n${JSON.stringify({ id: 'a', image: 'y.png', question: 'q' })}\n`);
    assert.match(batch(['--data', dup, '--out', join(dir, 'o.jsonl')]).stderr, /the id "a" appears twice/);
    writeFileSync(dup, '{"id": "a", "image": "x.png"}\n');
    assert.match(batch(['--data', dup, '--out', join(dir, 'o.jsonl')]).stderr, /line 1 \(id a\): "question" must be a non-empty string/);
    assert.match(batch(['--data', data]).stderr, /batch needs --out FILE/);
    assert.match(batch(['--data', data, '--out', join(dir, 'o.jsonl'), '--num-beams', '2']).stderr, /--num-beams is not available/);
  });
});
