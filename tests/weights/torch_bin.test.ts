/**
 * PyTorch .bin checkpoints, from fixtures torch.save wrote (tools/make_bin_fixtures.py): the tiny Llama's weights
 * as two .bin shards with their index load to exactly the safetensors copy's values and tokens; views at storage
 * offsets, shared storages, int64 and bfloat16 tensors read as torch holds them; a pickle that would call
 * os.system is refused by name and never runs; damaged archives are refused with the file named.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { convertCheckpoint, VipLlavaForConditionalGeneration } from '../../src/index.node.js';
import { FileSource } from '../../src/io/file_source.node.js';
import { SafetensorsFile } from '../../src/weights/safetensors.js';
import { halfToFloat32, bfloat16ToFloat32 } from '../../src/tensor/float16.js';
import { tempDir } from '../helpers/checkpoints.js';
import { FIXTURES, TINY_LLAMA } from '../helpers/fixtures.js';

/** tiny-llama's configs and tokenizer beside the .bin shards. */
function binCheckpoint(): string {
  const dir = tempDir('torch-bin');
  for (const f of readdirSync(TINY_LLAMA)) if (!f.includes('safetensors')) copyFileSync(join(TINY_LLAMA, f), join(dir, f));
  for (const f of readdirSync(join(FIXTURES, 'tiny-llama-bin'))) copyFileSync(join(FIXTURES, 'tiny-llama-bin', f), join(dir, f));
  return dir;
}

describe('PyTorch .bin checkpoints', () => {
  test('sharded .bin weights load to the safetensors copy\'s values and generate its tokens', async () => {
    const bin = await VipLlavaForConditionalGeneration.fromPretrained(binCheckpoint(), { engine: 'reference' });
    const st = await VipLlavaForConditionalGeneration.fromPretrained(TINY_LLAMA, { engine: 'reference' });
    const a = bin.parameters();
    const b = st.parameters();
    assert.equal(a.size, b.size);
    for (const [name, p] of a) assert.deepEqual(await bin.backend.read(p.value!), await st.backend.read(b.get(name)!.value!), name);
    const inputIds = [[1, 319, 13563, 1546, 263]];
    const [x, y] = await Promise.all([bin, st].map((m) => m.generate({ inputIds, maxNewTokens: 6 })));
    assert.deepEqual(x.tolist(), y.tolist());
  });

  test('views, shared storages, int64 and bfloat16 tensors read as torch holds them', async () => {
    const file = await SafetensorsFile.open(new FileSource(join(FIXTURES, 'bin-odd', 'odd.bin')));
    const want = JSON.parse(readFileSync(join(FIXTURES, 'bin-odd', 'odd.json'), 'utf8')) as Record<string, { shape: number[]; values: number[] }>;
    try {
      assert.deepEqual([...file.entries.keys()], Object.keys(want));
      for (const name of ['view', 'shared_a', 'bf16', 'half']) {
        const t = await file.read(name);
        assert.deepEqual(t.dims, want[name].shape, name);
        const values = t.dtype === 'float32' ? Array.from(t.data as Float32Array) : Array.from(t.dtype === 'float16' ? halfToFloat32(t.data as Uint16Array) : bfloat16ToFloat32(t.data as Uint16Array));
        assert.deepEqual(values.map((v) => Math.fround(v)), want[name].values.map((v) => Math.fround(v)), name);
      }
      const ids = await file.readBytes('position_ids');
      assert.deepEqual(Array.from(new BigInt64Array(ids.buffer, ids.byteOffset, ids.length / 8), Number), want.position_ids.values);
      assert.equal(file.entries.get('position_ids')!.dtype, 'I64');
    } finally {
      await file.close();
    }
  });

  test('a pickle that would call os.system is refused by name, and nothing runs', async () => {
    const dir = tempDir('malicious');
    copyFileSync(join(TINY_LLAMA, 'config.json'), join(dir, 'config.json'));
    copyFileSync(join(FIXTURES, 'malicious.bin'), join(dir, 'pytorch_model.bin'));
    await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained(dir), /pytorch_model\.bin: the pickle names posix\.system, which a tensor state dict never needs; refusing to load it/);
    assert.equal(existsSync('/tmp/vipllava-pwned'), false);
  });

  test('convert writes the hub layout as safetensors, which loads to the same weights; converting again changes no byte', async () => {
    const once = tempDir('converted');
    const twice = tempDir('converted-again');
    const r = await convertCheckpoint(binCheckpoint(), once, { maxShardBytes: 5e6 });
    assert.deepEqual(r.shards, ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    const index = JSON.parse(readFileSync(join(once, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
    const keys = Object.keys(index.weight_map);
    assert.ok(keys.every((k) => /^(language_model\.(model|lm_head)|vision_tower\.vision_model|multi_modal_projector)\./.test(k)), keys.find((k) => !/^(language_model|vision_tower|multi_modal_projector)/.test(k)));
    await convertCheckpoint(once, twice, { maxShardBytes: 5e6 });
    for (const f of readdirSync(once)) assert.ok(readFileSync(join(once, f)).equals(readFileSync(join(twice, f))), f);
    const a = await VipLlavaForConditionalGeneration.fromPretrained(once, { engine: 'reference' });
    const b = await VipLlavaForConditionalGeneration.fromPretrained(TINY_LLAMA, { engine: 'reference' });
    for (const [name, p] of a.parameters()) assert.deepEqual(await a.backend.read(p.value!), await b.backend.read(b.parameters().get(name)!.value!), name);
  });

  test('damaged archives are refused with the file named', async () => {
    const dir = binCheckpoint();
    const shard = join(dir, 'pytorch_model-00002-of-00002.bin');
    const bytes = readFileSync(shard);
    writeFileSync(shard, bytes.subarray(0, bytes.length - 30));
    await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained(dir), /pytorch_model-00002-of-00002\.bin: no zip directory at its end/);
    writeFileSync(shard, Buffer.concat([bytes.subarray(0, 40), Buffer.alloc(bytes.length - 40)]));
    await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained(dir), /pytorch_model-00002-of-00002\.bin: /);
  });
});
