/**
 * The served checkpoint's files under /hub/<name>/resolve/<revision>/<file>, which the page's in-browser mode
 * loads: sizes and ETags, byte ranges, conditional requests, only checkpoint files by name, the API key, and a
 * real load of the model from there (the library's HTTP checkpoint, as a browser reads it) that matches the folder.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_MODEL, VipLlavaForConditionalGeneration } from '../../src/index.node.js';
import { tempDir } from '../helpers/checkpoints.js';
import { serve, type Served } from '../helpers/serve.js';

const SHARD = 'model-00003-of-00003.safetensors';

describe('the checkpoint files the server shares', () => {
  let s: Served;
  let bare: Served;
  before(async () => {
    s = await serve({}, { apiKey: 'k', weightsDir: DEFAULT_MODEL });
    bare = await serve({}, {});
  });
  after(async () => {
    await s.close();
    await bare.close();
  });
  const auth = { authorization: 'Bearer k' };
  const at = (file: string, name = 'vip-llava-synthetic') => `${s.url}/hub/${name}/resolve/main/${file}`;

  test('HEAD gives the size and an ETag; a range comes back as 206 with exactly its bytes', async () => {
    const head = await fetch(at(SHARD), { method: 'HEAD', headers: auth });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get('content-length')), statSync(join(DEFAULT_MODEL, SHARD)).size);
    const etag = head.headers.get('etag');
    assert.ok(etag);
    const r = await fetch(at(SHARD), { headers: { ...auth, range: 'bytes=100-1123' } });
    assert.equal(r.status, 206);
    assert.deepEqual(new Uint8Array(await r.arrayBuffer()), new Uint8Array(readFileSync(join(DEFAULT_MODEL, SHARD)).subarray(100, 1124)));
    const again = await fetch(at('config.json'), { headers: auth });
    assert.deepEqual(await again.json(), JSON.parse(readFileSync(join(DEFAULT_MODEL, 'config.json'), 'utf8')));
    const unchanged = await fetch(at(SHARD), { headers: { ...auth, 'if-none-match': etag } });
    assert.equal(unchanged.status, 304);
    const beyond = await fetch(at(SHARD), { headers: { ...auth, range: 'bytes=99999999-' } });
    assert.equal(beyond.status, 416);
  });

  test('only checkpoint files of the served model, by name; the key guards them', async () => {
    const cases: Array<[string, number, RegExp]> = [
      [at('config.json', 'other-model'), 404, /not served here/],
      [at('missing.safetensors'), 404, /missing\.safetensors is not in the checkpoint/],
      [at('notes.txt'), 404, /not a checkpoint file this server shares/],
      [at('..%2F..%2Fpackage.json'), 404, /not a checkpoint file/],
      [at('sub/config.json'), 404, /not a checkpoint file/],
      [`${bare.url}/hub/vip-llava-synthetic/resolve/main/config.json`, 404, /not shared/],
    ];
    for (const [url, status, message] of cases) {
      const r = await fetch(url, { headers: auth });
      const body = (await r.json()) as { error: { message: string } };
      assert.equal(r.status, status, url);
      assert.match(body.error.message, message, url);
    }
    assert.equal((await fetch(at('config.json'))).status, 401);
  });

  test('the model loads from there, as from a hub, and computes what the folder copy computes', async () => {
    const hub = { endpoint: `${s.url}/hub`, token: 'k', cacheDir: tempDir('served-hub') };
    const remote = await VipLlavaForConditionalGeneration.fromPretrained('vip-llava-synthetic', { ...hub, engine: 'reference' });
    const local = await VipLlavaForConditionalGeneration.fromPretrained(DEFAULT_MODEL, { engine: 'reference' });
    const ids = [[1, 319, 13563, 1546, 263]];
    const [a, b] = await Promise.all([remote, local].map((m) => m.generate({ inputIds: ids, maxNewTokens: 6 })));
    assert.deepEqual(Array.from(a.data as BigInt64Array), Array.from(b.data as BigInt64Array));
    // a revision other than main or the folder's version is refused as the hub refuses one
    await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained('vip-llava-synthetic', { ...hub, revision: 'v2' }), /revision "v2" of vip-llava-synthetic was not found/);
    await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained('other', { ...hub }), /repository other was not found/);
  });
});
