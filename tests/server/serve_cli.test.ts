/** `vipllava serve` as a user starts it: the shipped model on a loopback port, the key from a file, Ctrl-C ends it. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/checkpoints.js';

test('vipllava serve: listens on 127.0.0.1, answers with the key from --api-key-file, ends cleanly on SIGINT', async () => {
  const keyFile = join(tempDir('serve'), 'key');
  writeFileSync(keyFile, 'from-a-file\n');
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'serve', '--port', '0', '--api-key-file', keyFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((ok, fail) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /serving vip-llava-synthetic at (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) ok(m[1]);
    });
    child.on('exit', () => fail(new Error(`serve exited: ${stderr}`)));
  });
  const ask = (key: string) =>
    fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'vip-llava-synthetic', max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] }),
    });
  assert.equal((await ask('wrong')).status, 401);
  const r = await ask('from-a-file');
  assert.equal(r.status, 200);
  assert.equal(((await r.json()) as { object: string }).object, 'chat.completion');
  assert.equal((await fetch(`${url}/`)).headers.get('content-type'), 'text/html; charset=utf-8', 'the page is served');
  const code = await new Promise<number | null>((ok) => {
    child.on('exit', (c) => ok(c));
    child.kill('SIGINT');
  });
  assert.equal(code, 0);
  assert.match(stderr, /"route":"\/v1\/chat\/completions".*"status":200/, 'one JSON log line per request');
});
