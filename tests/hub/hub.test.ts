/**
 * Finding checkpoints: a local folder, the Hugging Face cache as Python's huggingface_hub lays it out, and a
 * download from a local server that behaves like the hub's resolve URLs (redirects, ETags, Range, a dropped
 * connection).
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, copyFileSync, writeFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { VipLlavaForConditionalGeneration, VipLlavaProcessor, loadConfig } from '../../src/index.node.js';
import { VipLlavaConfig } from '../../src/config/vipllava_config.js';
import type { ProgressEvent } from '../../src/io/progress.js';
import { HubError } from '../../src/errors.js';
import { loadGoldens, TINY_LLAMA } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/checkpoints.js';
import { HubServer } from '../helpers/hub_server.js';

const COMMIT = 'a'.repeat(40);
const REPO = 'llava-hf/vip-llava-tiny';
const BIG_SHARD = 'model-00003-of-00003.safetensors';

async function greedyMatchesGolden(model: VipLlavaForConditionalGeneration): Promise<void> {
  const { meta } = await loadGoldens('tiny-llama');
  const c = meta.generate.text_only;
  assert.deepEqual((await model.generate({ inputIds: [c.input_ids as number[]], maxNewTokens: 12 })).tolist(), [c.output]);
}

/** Lays out `folder` in a hub cache exactly as huggingface_hub does (blobs named by ETag, relative symlinks). */
function pythonStyleCache(cacheDir: string, repoId: string, commit: string, folder: string): void {
  const repoDir = join(cacheDir, `models--${repoId.replace('/', '--')}`);
  mkdirSync(join(repoDir, 'blobs'), { recursive: true });
  mkdirSync(join(repoDir, 'refs'), { recursive: true });
  mkdirSync(join(repoDir, 'snapshots', commit), { recursive: true });
  writeFileSync(join(repoDir, 'refs', 'main'), commit);
  for (const f of readdirSync(folder)) {
    const bytes = readFileSync(join(folder, f));
    const etag = createHash(f.endsWith('.safetensors') ? 'sha256' : 'sha1').update(bytes).digest('hex');
    copyFileSync(join(folder, f), join(repoDir, 'blobs', etag));
    symlinkSync(join('..', '..', 'blobs', etag), join(repoDir, 'snapshots', commit, f));
  }
}

describe('checkpoint resolution', () => {
  test('a checkpoint laid out like llava-hf/vip-llava-7b-hf loads by path', async () => {
    await greedyMatchesGolden(await VipLlavaForConditionalGeneration.fromPretrained(TINY_LLAMA));
  });

  test('by hub id from a cache written by huggingface_hub, with no network ($HF_HOME honoured)', async () => {
    const home = tempDir('hfhome');
    pythonStyleCache(join(home, 'hub'), REPO, COMMIT, TINY_LLAMA);
    const saved = { ...process.env };
    Object.assign(process.env, { HF_HOME: home, HF_ENDPOINT: 'http://127.0.0.1:9' });
    delete process.env.HF_HUB_CACHE;
    try {
      await greedyMatchesGolden(await VipLlavaForConditionalGeneration.fromPretrained(REPO));
      const config = await loadConfig(REPO);
      assert.equal(config.text_config.hidden_size, 64);
    } finally {
      process.env = saved;
    }
  });

  test('a cached model loads with the network down and no offline flag: optional files it lacks are skipped', async () => {
    const cache = tempDir('cache-down');
    pythonStyleCache(cache, REPO, COMMIT, TINY_LLAMA);
    const down = { cacheDir: cache, endpoint: 'http://127.0.0.1:9' }; // nothing listens on port 9
    const processor = await VipLlavaProcessor.fromPretrained(REPO, down); // looks for chat_template.jinja, processor_config.json, ...
    assert.ok(processor.tokenizer.vocabSize > 0);
    await greedyMatchesGolden(await VipLlavaForConditionalGeneration.fromPretrained(REPO, down));
    await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained('llava-hf/not-cached', down), /cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  test('a commit hash as revision, and an unknown revision offline', async () => {
    const cache = tempDir('cache');
    pythonStyleCache(cache, REPO, COMMIT, TINY_LLAMA);
    await loadConfig(REPO, { cacheDir: cache, revision: COMMIT, localFilesOnly: true });
    await assert.rejects(loadConfig(REPO, { cacheDir: cache, revision: 'v2', localFilesOnly: true }), (e: unknown) => {
      assert.ok(e instanceof HubError);
      assert.match(e.message, /llava-hf\/vip-llava-tiny is not a folder and is not in the Hugging Face cache at .*, and offline mode is on/);
      return true;
    });
  });

  test('an id that is neither a folder nor a valid repository name', async () => {
    await assert.rejects(loadConfig('./not/a/real/folder/x'), /no checkpoint folder at .*not\/a\/real\/folder\/x/);
    await assert.rejects(loadConfig(join(TINY_LLAMA, 'config.json')), /config\.json is a file; give the checkpoint's folder/);
  });
});

describe('download from the hub', () => {
  let server: HubServer;
  before(async () => {
    server = await HubServer.start(
      [
        { id: REPO, commit: COMMIT, folder: TINY_LLAMA },
        { id: 'org/no-generation-config', commit: 'b'.repeat(40), folder: TINY_LLAMA, hide: ['generation_config.json'] },
      ],
      { token: 'hf_test_token' },
    );
  });
  after(() => server.close());

  test('downloads into the cache, resuming a dropped connection, reporting progress', async () => {
    const cache = tempDir('dl');
    server.log.length = 0;
    server.dropOnce.add(BIG_SHARD);
    const events: ProgressEvent[] = [];
    const model = await VipLlavaForConditionalGeneration.fromPretrained(REPO, {
      cacheDir: cache, endpoint: server.url, token: 'hf_test_token', onProgress: (p) => events.push(p),
    });
    await greedyMatchesGolden(model);

    // The big shard was cut off once, then fetched from where it stopped.
    const shardGets = server.log.filter((r) => r.method === 'GET' && r.url.includes(BIG_SHARD));
    assert.equal(shardGets.length, 2);
    assert.equal(shardGets[0].range, undefined);
    const size = statSync(join(TINY_LLAMA, BIG_SHARD)).size;
    const resumedAt = Number(shardGets[1].range!.match(/^bytes=(\d+)-$/)![1]);
    assert.ok(resumedAt > 0 && resumedAt < size, `resumed at ${resumedAt} of ${size}`);
    // The token goes to the hub's resolve URLs.
    assert.ok(server.log.filter((r) => r.url.includes('/resolve/')).every((r) => r.authorization === 'Bearer hf_test_token'));

    // Progress: per-file byte counts that only grow and end at the file size, then loading.
    const shard = events.filter((e) => e.stage === 'download' && e.file === BIG_SHARD);
    assert.ok(shard.length > 1);
    assert.equal(shard.at(-1)!.loaded, size);
    const loads = events.filter((e) => e.stage === 'load');
    assert.equal(loads.at(-1)!.loaded, loads.at(-1)!.total);

    // The cache is laid out as huggingface_hub lays it out.
    const repoDir = join(cache, 'models--llava-hf--vip-llava-tiny');
    assert.equal(readFileSync(join(repoDir, 'refs', 'main'), 'utf8'), COMMIT);
    const link = join(repoDir, 'snapshots', COMMIT, BIG_SHARD);
    assert.ok(lstatSync(link).isSymbolicLink());
    const sha = createHash('sha256').update(readFileSync(join(TINY_LLAMA, BIG_SHARD))).digest('hex');
    assert.equal(readlinkSync(link), join('..', '..', 'blobs', sha));
    assert.deepEqual(readFileSync(link), readFileSync(join(TINY_LLAMA, BIG_SHARD)));
    assert.ok(!readdirSync(join(repoDir, 'blobs')).some((f) => f.endsWith('.incomplete')));

    // A second load needs no network at all.
    server.log.length = 0;
    await VipLlavaForConditionalGeneration.fromPretrained(REPO, { cacheDir: cache, endpoint: 'http://127.0.0.1:9', localFilesOnly: true });
    await VipLlavaForConditionalGeneration.fromPretrained(REPO, { cacheDir: cache, endpoint: server.url });
    assert.equal(server.log.length, 0);
  });

  test('resumes an .incomplete blob a crashed run left behind', async () => {
    const cache = tempDir('resume');
    const bytes = readFileSync(join(TINY_LLAMA, BIG_SHARD));
    const sha = createHash('sha256').update(bytes).digest('hex');
    const blobs = join(cache, 'models--llava-hf--vip-llava-tiny', 'blobs');
    mkdirSync(blobs, { recursive: true });
    writeFileSync(join(blobs, `${sha}.incomplete`), bytes.subarray(0, 1000));
    server.log.length = 0;
    await VipLlavaForConditionalGeneration.fromPretrained(REPO, { cacheDir: cache, endpoint: server.url, token: 'hf_test_token' });
    const get = server.log.find((r) => r.method === 'GET' && r.url.includes(BIG_SHARD))!;
    assert.equal(get.range, 'bytes=1000-');
    assert.deepEqual(readFileSync(join(blobs, sha)), bytes);
  });

  test('$HF_ENDPOINT and $HF_TOKEN are honoured; a missing optional file is remembered', async () => {
    const cache = tempDir('env');
    const saved = { ...process.env };
    Object.assign(process.env, { HF_ENDPOINT: server.url, HF_TOKEN: 'hf_test_token', HF_HUB_CACHE: cache });
    try {
      const model = await VipLlavaForConditionalGeneration.fromPretrained('org/no-generation-config');
      assert.equal(model.generationConfig.eos_token_id, null);
      const marker = join(cache, 'models--org--no-generation-config', '.no_exist', 'b'.repeat(40), 'generation_config.json');
      assert.ok(existsSync(marker));
      server.log.length = 0;
      await VipLlavaForConditionalGeneration.fromPretrained('org/no-generation-config');
      assert.equal(server.log.length, 0, 'nothing asked twice');
    } finally {
      process.env = saved;
    }
  });

  test('errors: refused token, unknown repository, unknown revision, unreachable hub', async () => {
    const cache = tempDir('err');
    await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained(REPO, { cacheDir: cache, endpoint: server.url, token: 'wrong' }),
      /access to llava-hf\/vip-llava-tiny was refused \(HTTP 401\); set HF_TOKEN/);
    await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained('org/absent', { cacheDir: cache, endpoint: server.url, token: 'hf_test_token' }),
      /repository org\/absent was not found on http:\/\/127\.0\.0\.1:\d+/);
    await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained(REPO, { cacheDir: cache, endpoint: server.url, token: 'hf_test_token', revision: 'nope' }),
      /revision "nope" of llava-hf\/vip-llava-tiny was not found/);
    await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained(REPO, { cacheDir: cache, endpoint: 'http://127.0.0.1:9' }),
      /cannot reach http:\/\/127\.0\.0\.1:9 for llava-hf\/vip-llava-tiny\/config\.json/);
  });
});
