/**
 * The ViP-Bench runner on a fixture this test makes in both layouts (bbox/ and human/, questions.jsonl, images
 * with the prompts already drawn, vip-bench-meta-data.json): the official answers file, the answers the model
 * gives each image and question alone (llava_v1, padded), and grading through the project's own server as the
 * OpenAI-compatible judge — the protocol (max_tokens 3, the few-shot table, the retries) and the scoring, not
 * the verdicts, which a toy model gives. A re-run asks the judge nothing.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { drawPlan, encodePng, loadImage, SYNTHETIC_DATA } from '../../src/index.node.js';
import { judgeQuestion, parseScore, score } from '../../src/batch/vipbench.js';
import { tempDir } from '../helpers/checkpoints.js';
import { ROOT } from '../helpers/fixtures.js';
import { cliAnswer, serve, type Served } from '../helpers/serve.js';

const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const env = { ...process.env, VIPLLAVA_ENGINE: '', VIPLLAVA_DEVICE: '' };
interface Heldout { image: string; plan: Parameters<typeof drawPlan>[1]; rgba: [number, number, number, number]; question: string; answer: string; type: string; prompt_shape: string }

/** ViP-Bench's layout from held-out scenes: rectangles and ellipses in bbox/, arrows, scribbles and points in human/. */
async function makeVipBench(dir: string): Promise<void> {
  const { items } = JSON.parse(readFileSync(join(SYNTHETIC_DATA, 'heldout', 'items.json'), 'utf8')) as { items: Heldout[] };
  const meta: Record<string, { question: string; answer: string; capability: string[] }> = {};
  const lines: Record<string, string[]> = { bbox: [], human: [] };
  const taken = { bbox: 0, human: 0 };
  for (const [i, it] of items.entries()) {
    const split = ['rectangle', 'ellipse'].includes(it.prompt_shape) ? 'bbox' : 'human';
    if (taken[split] >= 5) continue;
    taken[split]++;
    mkdirSync(join(dir, split, 'images'), { recursive: true });
    const file = `v1_${i}_1.png`;
    writeFileSync(join(dir, split, 'images', file), await encodePng(drawPlan(await loadImage(join(SYNTHETIC_DATA, 'heldout', it.image)), it.plan, it.rgba)));
    lines[split].push(JSON.stringify({ question_id: i, image: file, text: it.question }));
    meta[`v1_${i}`] = { question: it.question.replace(/(within|pointed to by|marked by) the \w+ \w+/, '<obj>'), answer: it.answer, capability: it.type === 'count' ? ['rec', 'math'] : ['rec'] };
  }
  for (const split of ['bbox', 'human']) writeFileSync(join(dir, split, 'questions.jsonl'), `${lines[split].join('\n')}\n`);
  writeFileSync(join(dir, 'vip-bench-meta-data.json'), JSON.stringify(meta));
}

describe('vipllava vipbench', () => {
  const dir = tempDir('vipbench');
  let s: Served;
  const requests: Array<{ url: string }> = [];
  before(async () => {
    await makeVipBench(dir);
    const { PassThrough } = await import('node:stream');
    const log = new PassThrough();
    log.on('data', (d: Buffer) => {
      for (const l of d.toString().split('\n').filter(Boolean)) {
        const r = JSON.parse(l) as { msg?: string; url: string };
        if (r.msg === 'request') requests.push(r);
      }
    });
    s = await serve({}, { apiKey: 'judge-key', log });
  });
  after(() => s?.close());

  test('the answers file, graded by an OpenAI-compatible judge; a re-run pays for nothing', async () => {
    const out = join(dir, 'answers.json');
    // not spawnSync: the judge is this process's server
    const run = () =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'vipbench', '--data', dir, '--split', 'human', '--out', out, '--judge', `${s.url}/v1`, '--judge-model', 'vip-llava-synthetic', '--judge-key', 'judge-key'], { env });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('exit', (status) => resolve({ status, stdout, stderr }));
      });
    const r = await run();
    assert.equal(r.status, 0, r.stderr);
    const answers = JSON.parse(readFileSync(out, 'utf8')) as Record<string, string>;
    const questions = readFileSync(join(dir, 'human', 'questions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { question_id: number; image: string; text: string });
    assert.deepEqual(Object.keys(answers), questions.map((q) => `v1_${q.question_id}`));
    for (const q of questions.slice(0, 2)) {
      const alone = cliAnswer(['--image', join(dir, 'human', 'images', q.image), '--template', 'llava_v1', '--image-aspect-ratio', 'pad', '--prompt', q.text, '--max-new-tokens', '200']).answer;
      assert.equal(answers[`v1_${q.question_id}`], alone);
    }
    // the table: every capability, then the total, each the evaluator's aggregation of the cached grades
    assert.match(r.stdout, /^ViP-Bench human, judged by vip-llava-synthetic:\nrec +\d+\.\d {2}\(5 samples\)\n(math .*\n)?total +\d+\.\d {2}\(5 samples\)\n$/);
    const judged = requests.filter((q) => q.url === '/v1/chat/completions').length;
    assert.ok(judged >= 5, `${judged} judge requests`);
    const again = await run();
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, r.stdout);
    assert.equal(requests.filter((q) => q.url === '/v1/chat/completions').length, judged, 'the re-run asked the judge again');
  });

  test('the bbox layout answered without a judge: the answers file alone', () => {
    const out = join(dir, 'bbox.json');
    const r = spawnSync(process.execPath, [CLI, 'vipbench', '--data', dir, '--split', 'bbox', '--out', out], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    const questions = readFileSync(join(dir, 'bbox', 'questions.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { question_id: number }).question_id);
    const answers = JSON.parse(readFileSync(out, 'utf8')) as Record<string, string>;
    assert.deepEqual(Object.keys(answers), questions.map((q) => `v1_${q}`));
    assert.ok(Object.values(answers).every((a) => a.length > 0));
    assert.equal(r.stdout, '');
  });

  test('the judge prompt, the score parser and the aggregation follow the original evaluator', () => {
    const q = judgeQuestion('What is within the red box?', 'cat<OR>dog', 'a dog', false);
    assert.ok(q.startsWith('Compare the ground truth and prediction from AI models'));
    assert.ok(q.endsWith('\nWhat is within the red box? | cat <OR> dog | a dog | '));
    assert.ok(judgeQuestion('Q', 'A', 'P', true).endsWith('Q | A | P | \nPredict the correctness of the answer (digit): '));
    assert.equal(parseScore('0.5'), 0.5);
    assert.equal(parseScore('1.0 because'), 1);
    assert.equal(parseScore('.3'), 0.3);
    for (const bad of ['1.2', '-0.1', 'blue', '', ' 0.5', '0x1', 'nan']) assert.equal(parseScore(bad), null, bad);
    const items = [
      { id: 'a', image: '', question: '', meta: { capability: ['rec', 'ocr'] } },
      { id: 'b', image: '', question: '', meta: { capability: ['rec'] } },
      { id: 'c', image: '', question: '', meta: { capability: ['ocr', 'rec'] } },
    ];
    assert.deepEqual(score(items, new Map([['a', 1], ['b', 0.5], ['c', 0]])).rows, [
      { capability: 'rec', samples: 3, score: 50 },
      { capability: 'ocr', samples: 2, score: 50 },
      { capability: 'total', samples: 3, score: 50 },
    ]);
  });
});
