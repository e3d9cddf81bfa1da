import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadGoldens, ROOT, TINY_LLAMA, TINY_MISTRAL } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/checkpoints.js';
import { HubServer } from '../helpers/hub_server.js';

const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

/** Runs the CLI asynchronously (the hub server in this process must keep answering). */
async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  return new Promise((ok) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => ok({ code: code ?? -1, stdout, stderr }));
  });
}

describe('vipllava CLI', () => {
  test('generate prints the tokens transformers generates', async () => {
    for (const [name, dir] of [['tiny-llama', TINY_LLAMA], ['tiny-mistral', TINY_MISTRAL]] as const) {
      const c = (await loadGoldens(name)).meta.generate.text_only;
      const ids = c.input_ids as number[];
      const r = await run(['generate', '--model', dir, '--input-ids', ids.join(','), '--max-new-tokens', '12', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { input_ids: ids, generated_ids: (c.output as number[]).slice(ids.length) });
    }
  });

  test('info summarises the checkpoint', async () => {
    const r = await run(['info', '--model', TINY_LLAMA]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /vision\s+CLIP, 12 layers, hidden 32, 56px \/ patch 14 → 16 image tokens/);
    assert.match(r.stdout, /text\s+llama, 2 layers, hidden 64, heads 4\/2 kv, vocab 32064/);
  });

  test('errors are one line with a non-zero exit; --verbose adds the stack', async () => {
    const r = await run(['generate', '--model', '/no/such/checkpoint', '--input-ids', '1,2']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'vipllava: no checkpoint folder at /no/such/checkpoint\n');
    const usage = await run(['generate', '--model', TINY_LLAMA]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^vipllava: generate needs --input-ids/);
    const verbose = await run(['generate', '--model', TINY_LLAMA, '--input-ids', '1,99999', '--verbose']);
    assert.equal(verbose.code, 1);
    assert.match(verbose.stderr, /InputError: token id 99999 is outside the vocabulary \(size 32064\)\n\s+at /);
    const unknown = spawnSync(process.execPath, [CLI, 'frobnicate'], { encoding: 'utf8' });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });

  describe('download', () => {
    let server: HubServer;
    before(async () => {
      server = await HubServer.start([{ id: 'llava-hf/vip-llava-tiny', commit: 'c'.repeat(40), folder: TINY_LLAMA }]);
    });
    after(() => server.close());

    test('fetches a hub checkpoint into $HF_HOME', async () => {
      const home = tempDir('cli-home');
      const env = { HF_HOME: home, HF_ENDPOINT: server.url, HF_HUB_CACHE: '' };
      const r = await run(['download', 'llava-hf/vip-llava-tiny'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /ready: llava-hf\/vip-llava-tiny/);
      const offline = await run(['info', '--model', 'llava-hf/vip-llava-tiny', '--offline'], env);
      assert.equal(offline.code, 0, offline.stderr);
      assert.match(offline.stdout, new RegExp(`checkpoint\\s+${join(home, 'hub')}`));
    });
  });
});
