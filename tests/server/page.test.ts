/**
 * The drawing page in a real headless browser (Debian's chromium through playwright-core, WebGPU on its
 * SwiftShader adapter): open an image, drag a box, ask, read the streamed answer. The preview's pixels are the
 * server's own rendering of the same prompt, and the answer is the CLI's. Then the same with the model computed in
 * the page (loaded from the server's /hub files, no completion asked of the server), over two conversations.
 * Without chromium the test is skipped, unless VIPLLAVA_REQUIRE_BROWSER is set (CI).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PassThrough } from 'node:stream';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEFAULT_MODEL, loadImage } from '../../src/index.node.js';
import { ROOT } from '../helpers/fixtures.js';
import { cliAnswer, serve, type Served } from '../helpers/serve.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const SHAPES = join(ROOT, 'docs', 'images', 'shapes.png');
const BOX = [132, 66, 200, 132];
/** The part of a canvas the page code below touches (the tests compile without the DOM's types). */
interface Canvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
}
if (!CHROMIUM && process.env.VIPLLAVA_REQUIRE_BROWSER) throw new Error('chromium is required (VIPLLAVA_REQUIRE_BROWSER) but not installed');

describe('the drawing page', { skip: CHROMIUM ? false : 'chromium is not installed (apt-get install chromium)' }, () => {
  let s: Served;
  let browser: Browser;
  let page: Page;
  /** The server's request log: route and URL of every request. */
  const requests: Array<{ route: string; url: string }> = [];
  before(async () => {
    const log = new PassThrough();
    log.on('data', (line: Buffer) => {
      for (const l of line.toString().split('\n').filter(Boolean)) {
        const r = JSON.parse(l) as { msg?: string; route: string; url: string };
        if (r.msg === 'request') requests.push(r);
      }
    });
    s = await serve({}, { apiKey: 'page-key', weightsDir: DEFAULT_MODEL, log });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'] });
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  /** Drags on the preview from image point a to image point b. */
  async function drag(a: number[], b: number[]): Promise<void> {
    const r = (await page.locator('#preview').boundingBox())!;
    const { width } = await page.locator('#preview').evaluate((c: Canvas) => ({ width: c.width }));
    const k = r.width / width;
    await page.mouse.move(r.x + a[0] * k, r.y + a[1] * k);
    await page.mouse.down();
    await page.mouse.move(r.x + ((a[0] + b[0]) / 2) * k, r.y + ((a[1] + b[1]) / 2) * k, { steps: 4 });
    await page.mouse.move(r.x + b[0] * k, r.y + b[1] * k, { steps: 4 });
    await page.mouse.up();
  }

  test('open an image, draw a box, ask; the answer streams in and is the CLI\'s', async () => {
    await page.goto(s.url);
    await page.setInputFiles('#file', SHAPES);
    await page.locator('#preview').waitFor({ state: 'visible' });
    await drag([BOX[0], BOX[1]], [BOX[2], BOX[3]]);
    assert.match(await page.locator('#prompts li').first().innerText(), /within the red rectangle/);

    // The preview is what the server draws for the same prompt.
    const shown = await page.locator('#preview').evaluate((c: Canvas) => Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data));
    const render = await fetch(`${s.url}/v1/visual-prompts/render`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer page-key' },
      body: JSON.stringify({ image: `data:image/png;base64,${readFileSync(SHAPES).toString('base64')}`, visual_prompts: [{ shape: 'rectangle', box: BOX, color: 'red' }], visual_prompt_options: { seed: 0, style: 'eval' } }),
    });
    const served = await loadImage(new Uint8Array(await render.arrayBuffer()));
    const rgb = shown.filter((_, i) => i % 4 !== 3);
    assert.equal(rgb.length, served.data.length);
    assert.ok(rgb.every((v, i) => v === served.data[i]), 'the preview shows the pixels the server draws');

    // A wrong key: the server's error is shown plainly.
    await page.fill('#key', 'wrong');
    await page.click('#ask');
    await page.locator('#error').filter({ hasText: 'a valid API key is required' }).waitFor();
    assert.equal(await page.locator('.turn').count(), 0, 'a refused question leaves the conversation as it was');

    await page.fill('#key', 'page-key');
    await page.click('#ask');
    await page.locator('#ask:not([disabled])').waitFor();
    const expected = cliAnswer(['--image', SHAPES, '--box', BOX.join(','), '--prompt', 'What colour is the shape within the red rectangle?']).answer;
    assert.equal(await page.locator('.turn.user').last().innerText(), 'What colour is the shape within the red rectangle?');
    assert.equal(await page.locator('.turn.assistant').last().innerText(), expected);
    assert.equal(await page.locator('#error').innerText(), '');

    // A second turn, keyboard only: the question, then Ctrl+Enter.
    await page.fill('#question', 'And its shape?');
    await page.press('#question', 'Control+Enter');
    await page.locator('.turn.assistant').nth(1).waitFor();
    await page.locator('#ask:not([disabled])').waitFor();
    assert.ok((await page.locator('.turn.assistant').nth(1).innerText()).length > 0);
    if (process.env.VIPLLAVA_SCREENSHOT) await page.screenshot({ path: process.env.VIPLLAVA_SCREENSHOT, fullPage: true });
  });

  test('the model computed in the page: the same answers, and the server computes none', async () => {
    const p = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    try {
      await p.goto(`${s.url}/?compute=browser`);
      // without the key the server shares no files: the load fails plainly, and is tried again at the question
      await p.locator('#error').filter({ hasText: 'could not be loaded into this browser' }).waitFor();
      await p.fill('#key', 'page-key');
      await p.setInputFiles('#file', SHAPES);
      await p.locator('#preview').waitFor({ state: 'visible' });
      const completions = () => requests.filter((r) => r.url.startsWith('/v1/chat') || r.url.startsWith('/api/')).length;
      const before = completions();

      await p.fill('#x1', String(BOX[0]));
      await p.fill('#y1', String(BOX[1]));
      await p.fill('#x2', String(BOX[2]));
      await p.fill('#y2', String(BOX[3]));
      await p.click('#add');
      await p.click('#ask');
      await p.locator('#ask:not([disabled])').waitFor({ timeout: 240_000 });
      assert.equal(await p.locator('#error').innerText(), '');
      assert.match(await p.locator('#status').innerText(), /runs in this browser, webgpu \(navigator\.gpu, /);
      const first = cliAnswer(['--image', SHAPES, '--box', BOX.join(','), '--prompt', 'What colour is the shape within the red rectangle?']).answer;
      assert.equal(await p.locator('.turn.assistant').last().innerText(), first);

      // a follow-up turn: the server's answer to the same conversation
      await p.fill('#question', 'What shape is within the red rectangle?');
      await p.click('#ask');
      await p.locator('.turn.assistant').nth(1).waitFor();
      await p.locator('#ask:not([disabled])').waitFor({ timeout: 120_000 });
      const followUp = await p.locator('.turn.assistant').nth(1).innerText();

      // a new conversation with another shape and colour, typed in
      await p.click('#reset');
      await p.click('#clear');
      await p.check('input[name=shape][value=arrow]');
      await p.selectOption('#color', 'lime');
      for (const [id, v] of Object.entries({ x1: 220, y1: 225, x2: 275, y2: 280 })) await p.fill(`#${id}`, String(v));
      await p.click('#add');
      await p.fill('#question', 'What shape is {prompt}?');
      await p.click('#ask');
      await p.locator('#ask:not([disabled])').waitFor({ timeout: 240_000 });
      assert.equal(await p.locator('.turn.user').last().innerText(), 'What shape is pointed to by the lime arrow?');
      const arrow = cliAnswer(['--image', SHAPES, '--box', '220,225,275,280', '--shape', 'arrow', '--color', 'lime', '--prompt', 'What shape is pointed to by the lime arrow?']).answer;
      assert.equal(await p.locator('.turn.assistant').last().innerText(), arrow);
      assert.equal(await p.locator('#error').innerText(), '');

      assert.equal(completions(), before, 'the page asked the server for a completion');
      assert.ok(requests.some((r) => r.url === '/hub/vip-llava-synthetic/resolve/main/model-00001-of-00003.safetensors'), 'the weights came from the server\'s /hub files');
      assert.deepEqual(errors, []);

      // the server, asked the same two-turn conversation, answers the follow-up the same way
      const image = `data:image/png;base64,${readFileSync(SHAPES).toString('base64')}`;
      const r = await fetch(`${s.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer page-key' },
        body: JSON.stringify({
          model: 'vip-llava-synthetic',
          max_tokens: 128,
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: image }, visual_prompts: [{ shape: 'rectangle', box: BOX, color: 'red' }] }, { type: 'text', text: 'What colour is the shape within the red rectangle?' }] },
            { role: 'assistant', content: first },
            { role: 'user', content: 'What shape is within the red rectangle?' },
          ],
        }),
      });
      const body = (await r.json()) as { choices: Array<{ message: { content: string } }> };
      assert.equal(followUp, body.choices[0].message.content);
    } finally {
      await p.close();
    }
  });
});
