/** Quantised weights are cached on disk at the first load and read back, byte for byte, at the next. */
import assert from 'node:assert/strict';
import { readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { VipLlavaForConditionalGeneration } from '../../src/models/vipllava.js';
import { namedParameters } from '../../src/models/modules.js';
import { TINY_LLAMA } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/checkpoints.js';

describe('packed-weight cache (native engine)', () => {
  const dir = tempDir('packed');
  const saved = process.env.VIPLLAVA_CACHE_DIR;
  before(() => {
    process.env.VIPLLAVA_CACHE_DIR = dir;
  });
  after(() => {
    if (saved === undefined) delete process.env.VIPLLAVA_CACHE_DIR;
    else process.env.VIPLLAVA_CACHE_DIR = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  const load = (dtype: 'q8_0' | 'q4_0' | 'bfloat16') => VipLlavaForConditionalGeneration.fromPretrained(TINY_LLAMA, { engine: 'native', dtype });
  const logits = async (m: VipLlavaForConditionalGeneration) => (await m.forward({ inputIds: [[1, 450, 4996, 17354, 1701]] })).logits.toFloat32();
  const weights = async (m: VipLlavaForConditionalGeneration) => {
    const p = namedParameters(m).get('model.language_model.layers.0.mlp.down_proj.weight')!.value;
    return p.backend.read(p);
  };

  for (const dtype of ['q8_0', 'q4_0', 'bfloat16'] as const) {
    test(`${dtype}: written once per shard, then read back identically; a damaged file is ignored and rewritten`, async () => {
      const first = await load(dtype);
      const files = readdirSync(dir).filter((f) => f.endsWith('.vpk'));
      assert.ok(files.length >= 1, 'no cache file was written');
      const stamps = files.map((f) => statSync(join(dir, f)).mtimeMs);
      const second = await load(dtype);
      assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.vpk')), files);
      assert.deepEqual(files.map((f) => statSync(join(dir, f)).mtimeMs), stamps, 'the cache was rewritten instead of read');
      assert.deepEqual(await weights(second), await weights(first));
      assert.deepEqual(await logits(second), await logits(first));
      for (const f of files) truncateSync(join(dir, f), 100);
      const third = await load(dtype);
      assert.deepEqual(await logits(third), await logits(first));
      assert.ok(files.every((f) => statSync(join(dir, f)).size > 100), 'the damaged file was not rewritten');
      for (const f of readdirSync(dir)) rmSync(join(dir, f));
    });
  }
});
