/** Quantised weights are cached on disk at the first load and read back, byte for byte, at the next. */
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { VipLlavaForConditionalGeneration } from '../../src/index.node.js';
import { namedParameters } from '../../src/models/modules.js';
import { TINY_LLAMA } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/checkpoints.js';
import { nativeAddon } from '../../src/backend/cpu/native_addon.node.js';

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

  test('files no load can use again are removed: an older version of a shard, a deleted checkpoint, a crashed write', async () => {
    const vpk = () => readdirSync(dir).filter((f) => f.endsWith('.vpk')).sort();
    const copy = (name: string) => {
      const to = join(tempDir('packed-src'), name);
      cpSync(TINY_LLAMA, to, { recursive: true });
      return to;
    };
    const a = copy('a');
    const b = copy('b');
    await VipLlavaForConditionalGeneration.fromPretrained(a, { engine: 'native', dtype: 'q8_0' });
    const ofA = vpk();
    await VipLlavaForConditionalGeneration.fromPretrained(b, { engine: 'native', dtype: 'q8_0' });
    const ofB = vpk().filter((f) => !ofA.includes(f));
    assert.equal(ofB.length, ofA.length);
    rmSync(b, { recursive: true }); // b's files can never be read again
    const crashed = join(dir, 'x.vpk.999.partial');
    writeFileSync(crashed, 'half a file');
    utimesSync(crashed, new Date(Date.now() - 7200e3), new Date(Date.now() - 7200e3));
    const shard = readdirSync(a).find((f) => f.endsWith('.safetensors'))!;
    utimesSync(join(a, shard), new Date(), new Date(Date.now() + 5000)); // the shard changed: its old file is stale
    await VipLlavaForConditionalGeneration.fromPretrained(a, { engine: 'native', dtype: 'q8_0' });
    const now = vpk();
    assert.equal(now.length, ofA.length, `${now}`);
    assert.equal(now.filter((f) => ofA.includes(f)).length, ofA.length - 1, 'the changed shard kept its old file');
    assert.ok(!readdirSync(dir).includes('x.vpk.999.partial'));
    await VipLlavaForConditionalGeneration.fromPretrained(a, { engine: 'native', dtype: 'q4_0' }); // another format: kept beside
    assert.equal(vpk().length, 2 * ofA.length);
    // a file an older version of the library wrote for the same shard (its options had no layout then)
    const st = statSync(realpathSync(join(a, shard)));
    const header = Buffer.from(JSON.stringify({ version: 1, source: { path: realpathSync(join(a, shard)), size: st.size, mtimeMs: st.mtimeMs, options: 'q8_0' }, tensors: {} }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    for (const f of vpk()) rmSync(join(dir, f)); // every current file gone, so the next load writes (and prunes)
    writeFileSync(join(dir, 'old-version.vpk'), Buffer.concat([len, header]));
    await VipLlavaForConditionalGeneration.fromPretrained(a, { engine: 'native', dtype: 'q8_0' });
    assert.ok(!vpk().includes('old-version.vpk'), 'the older version\'s file was kept');
  });

  test('the cache key names the layout the kernel set chose (bf16 products or fp32 compute from bf16)', async () => {
    for (const f of readdirSync(dir)) rmSync(join(dir, f));
    await load('bfloat16');
    const bf16dot = nativeAddon()!.info().bf16dot;
    const options = readdirSync(dir).filter((f) => f.endsWith('.vpk')).map((f) => {
      const raw = readFileSync(join(dir, f));
      return (JSON.parse(raw.subarray(8, 8 + Number(raw.readBigUInt64LE(0))).toString()) as { source: { options: string } }).source.options;
    });
    assert.ok(options.length > 0);
    for (const o of options) assert.equal(o, `bfloat16, panels of 32, format ${bf16dot ? 3 : 2}`);
    for (const f of readdirSync(dir)) rmSync(join(dir, f));
  });
});
