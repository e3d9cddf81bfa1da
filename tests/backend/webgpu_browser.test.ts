/**
 * The WebGPU engine in a real browser: Debian's chromium (headless, through playwright-core) with WebGPU on its
 * SwiftShader adapter. The page (tests/browser/webgpu_page.ts, bundled here by esbuild from the library's
 * browser-safe core) checks a few ops against the reference engine and decodes the shipped model, loaded over HTTP
 * range requests and kept in the Cache API, on both engines. Without chromium the test is skipped, unless VIPLLAVA_REQUIRE_BROWSER is set.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { DEFAULT_MODEL } from '../../src/index.node.js';
import { HubServer } from '../helpers/hub_server.js';
import { ROOT } from '../helpers/fixtures.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!CHROMIUM && process.env.VIPLLAVA_REQUIRE_BROWSER) throw new Error('chromium is required (VIPLLAVA_REQUIRE_BROWSER) but not installed');

describe('the WebGPU engine in chromium', { skip: CHROMIUM ? false : 'chromium is not installed (apt-get install chromium)' }, () => {
  test('ops match the reference engine and the shipped model decodes the same tokens, all in the page', async () => {
    const bundle = await build({ entryPoints: [join(ROOT, 'tests', 'browser', 'webgpu_page.ts')], bundle: true, platform: 'browser', format: 'esm', target: 'es2022', write: false, logLevel: 'warning' });
    const hub = await HubServer.start([{ id: 'local/vip-llava-synthetic', commit: 'c'.repeat(40), folder: DEFAULT_MODEL }], {
      pages: {
        'index.html': { body: '<!doctype html><script type="module" src="page.js"></script>', type: 'text/html' },
        'page.js': { body: Buffer.from(bundle.outputFiles[0].contents), type: 'text/javascript' },
      },
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${hub.url}/page/index.html`);
      await page.waitForFunction(() => 'runWebgpuChecks' in globalThis, null, { timeout: 30_000 });
      const r = (await page.evaluate((repo) => (globalThis as unknown as { runWebgpuChecks: (repo: string) => Promise<unknown> }).runWebgpuChecks(repo), 'local/vip-llava-synthetic')) as {
        adapter: string;
        errors: Record<string, number>;
        tokens: Record<string, number[]>;
      };
      assert.deepEqual(errors, []);
      assert.match(r.adapter, /^webgpu \(navigator\.gpu, /);
      for (const [op, err] of Object.entries(r.errors)) assert.ok(err <= 2e-6, `${op}: ${err}`);
      assert.equal(r.tokens.webgpu.length, 16);
      assert.deepEqual(r.tokens.webgpu, r.tokens.reference);
      // the weights came by range requests from the page's own origin, once: the reference engine's load (whose
      // tokens match) and a third one read them from the Cache API
      const ranges = () => hub.log.filter((l) => l.range && l.url.startsWith('/cdn/')).length;
      const fetched = ranges();
      assert.ok(fetched > 0, JSON.stringify(hub.log.slice(0, 5)));
      const hidden = await page.evaluate((repo) => (globalThis as unknown as { loadAgain: (repo: string) => Promise<number> }).loadAgain(repo), 'local/vip-llava-synthetic');
      assert.equal(hidden, 128);
      assert.equal(ranges(), fetched, 'a later load fetched weight ranges again instead of reading the Cache API');
    } finally {
      await browser.close();
      await hub.close();
    }
  });
});
