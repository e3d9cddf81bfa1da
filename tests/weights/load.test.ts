/** The loader over every key layout and dtype, and its errors on malformed checkpoints. */
import assert from 'node:assert/strict';
import { copyFileSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { VipLlavaForConditionalGeneration } from '../../src/index.node.js';
import { namedParameters } from '../../src/models/modules.js';
import { canonicalKey } from '../../src/weights/key_map.js';
import { HubError, WeightsError } from '../../src/errors.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { float32ToBfloat16 } from '../../src/tensor/float16.js';
import { bfloat16ToFloat32 } from '../../src/tensor/float16.js';
import { loadGoldens, TINY_LLAMA } from '../helpers/fixtures.js';
import { readAllTensors, tempDir, toRaw, writeCheckpoint } from '../helpers/checkpoints.js';
import type { RawTensor } from '../helpers/safetensors_writer.js';
import { relativeError } from '../helpers/compare.js';
import { webgpuEngine } from '../../src/backend/webgpu/webgpu_engine.node.js';
import { dequantize, quantize } from '../../src/weights/quantize.js';

const LAYOUTS: Record<string, (legacy: string) => string> = {
  'hub legacy': (k) => k,
  'transformers 4.5x in memory': (k) => canonicalKey(k)!.replace(/^model\.vision_tower\./, 'model.vision_tower.vision_model.'),
  'transformers 5.x in memory': (k) => canonicalKey(k)!,
  'transformers 5.x save_pretrained': (k) => k.replace(/^vision_tower\.vision_model\./, 'vision_tower.'),
};

async function parameterValues(model: VipLlavaForConditionalGeneration): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, p] of namedParameters(model)) out.set(name, await p.value.backend.read(p.value));
  return out;
}

describe('checkpoint loading', () => {
  let original: Map<string, Tensor>; // the fixture's tensors, hub legacy names, fp16
  let reference: Map<string, Float32Array>; // parameters as loaded from the fixture

  before(async () => {
    original = await readAllTensors(TINY_LLAMA);
    reference = await parameterValues(await VipLlavaForConditionalGeneration.fromPretrained(TINY_LLAMA));
  });

  const dtypes = ['F16', 'F32', 'BF16'] as const;
  Object.entries(LAYOUTS).forEach(([layout, rename], i) => {
    const dtype = dtypes[i % dtypes.length];
    test(`${layout} layout, ${dtype}, ${i % 2 ? 'single file' : 'sharded'}`, async () => {
      const tensors: Record<string, RawTensor> = {};
      for (const [k, t] of original) tensors[rename(k)] = toRaw(t, dtype);
      const dir = writeCheckpoint(tempDir('layout'), tensors, { from: TINY_LLAMA, shards: i % 2 ? 1 : 3 });
      const model = await VipLlavaForConditionalGeneration.fromPretrained(dir);
      const loaded = await parameterValues(model);
      assert.deepEqual([...loaded.keys()].sort(), [...reference.keys()].sort());
      for (const [name, want] of reference) {
        const expected = dtype === 'BF16' ? bfloat16ToFloat32(Uint16Array.from(want, float32ToBfloat16)) : want;
        assert.deepEqual(loaded.get(name), expected, name);
      }
      rmSync(dir, { recursive: true });
    });
  });

  test("dtype 'float32' widens weights and gives the same logits", async () => {
    const model = await VipLlavaForConditionalGeneration.fromPretrained(TINY_LLAMA, { dtype: 'float32' });
    const p = namedParameters(model).get('lm_head.weight')!;
    assert.equal(p.value.dtype, 'float32');
    const { meta, tensors } = await loadGoldens('tiny-llama');
    const { logits } = await model.forward({ inputIds: [meta.single.input_ids.slice(0, 5)] });
    assert.equal(logits.dims[1], 5);
    const fp16 = await VipLlavaForConditionalGeneration.fromPretrained(TINY_LLAMA);
    assert.equal(namedParameters(fp16).get('lm_head.weight')!.value.dtype, 'float16');
    const { logits: l2 } = await fp16.forward({ inputIds: [meta.single.input_ids.slice(0, 5)] });
    assert.equal(relativeError(logits.toFloat32(), l2.toFloat32()), 0);
    assert.ok(tensors.size > 0);
  });

  describe('errors name the tensor or file at fault', () => {
    let base: Record<string, RawTensor>;
    before(() => {
      base = {};
      for (const [k, t] of original) base[k] = toRaw(t, 'F16');
    });

    async function expectError(tensors: Record<string, RawTensor>, pattern: RegExp, shards = 1) {
      const dir = writeCheckpoint(tempDir('bad'), tensors, { from: TINY_LLAMA, shards });
      await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained(dir), (e: unknown) => {
        assert.ok(e instanceof WeightsError || e instanceof HubError, String(e));
        assert.match((e as Error).message, pattern);
        assert.ok(!(e as Error).message.includes('\n'));
        return true;
      });
      rmSync(dir, { recursive: true });
    }

    test('a missing tensor', async () => {
      const { ['language_model.model.layers.1.mlp.up_proj.weight']: _gone, ...rest } = base;
      await expectError(rest, /missing tensor "model\.language_model\.layers\.1\.mlp\.up_proj\.weight" in the checkpoint at /);
    });

    test('several missing tensors', async () => {
      const rest = Object.fromEntries(Object.entries(base).filter(([k]) => !k.startsWith('language_model.model.layers.0.self_attn')));
      await expectError(rest, /missing tensor ".*layers\.0\.self_attn\..*" \(and 3 more\)/);
    });

    test('a shape that does not match the config', async () => {
      const wrong = { ...base, 'multi_modal_projector.linear_1.bias': { dtype: 'F16', shape: [32], bytes: new Uint8Array(64) } };
      await expectError(wrong, /model\.safetensors: tensor "multi_modal_projector\.linear_1\.bias" has shape \[32\] but the config implies \[64\]/);
    });

    test('the same parameter under two layouts', async () => {
      const dup = { ...base, 'model.language_model.norm.weight': base['language_model.model.norm.weight'] };
      await expectError(dup, /duplicates .*model\.language_model\.norm\.weight/);
    });

    test('an integer tensor where a weight belongs', async () => {
      const ints = { ...base, 'language_model.model.norm.weight': { dtype: 'I32', shape: [64], bytes: new Uint8Array(256) } };
      await expectError(ints, /tensor "language_model\.model\.norm\.weight" has dtype I32; weights must be F32, F16 or BF16/);
    });

    test('extra tensors are skipped, saying once which (buffers and CLIP\'s post_layernorm silently)', async () => {
      const norm = toRaw(original.get('language_model.model.norm.weight')!, 'F32');
      const extra = { ...base, 'vision_tower.vision_model.embeddings.position_ids': { dtype: 'I64', shape: [1, 17], bytes: new Uint8Array(136) }, 'unrelated.weight': norm, 'other.bias': norm };
      const dir = writeCheckpoint(tempDir('extra'), extra, { from: TINY_LLAMA });
      const warnings: string[] = [];
      const listen = (w: Error & { code?: string }) => w.code === 'VIPLLAVA_UNUSED_WEIGHTS' && warnings.push(w.message);
      process.on('warning', listen);
      try {
        await VipLlavaForConditionalGeneration.fromPretrained(dir);
        await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
        await VipLlavaForConditionalGeneration.fromPretrained(TINY_LLAMA); // its post_layernorm: no word
        await new Promise((r) => setImmediate(r));
      } finally {
        process.off('warning', listen);
      }
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0], /has tensors VipLlava does not use, which are skipped: "(unrelated\.weight|other\.bias)" \(and 1 more\)/);
      rmSync(dir, { recursive: true });
    });

    test('no checkpoint at all is an error naming what is expected', async () => {
      for (const source of [undefined, null, '', 42]) {
        await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained(source as never), /^InputError: a checkpoint is a folder, a hub id or CheckpointFiles, got /);
      }
    });

    test('weights that give non-finite logits are reported, not answered with ""', async () => {
      const lm = original.get('language_model.lm_head.weight')!;
      const nan = { dtype: 'F32' as const, shape: [...lm.dims], bytes: new Uint8Array(new Float32Array(lm.size).fill(NaN).buffer) };
      const dir = writeCheckpoint(tempDir('nan'), { ...base, 'language_model.lm_head.weight': nan }, { from: TINY_LLAMA });
      const model = await VipLlavaForConditionalGeneration.fromPretrained(dir);
      await assert.rejects(model.generate({ inputIds: [[1, 450, 4996]], maxNewTokens: 3 }), /the model's logits are not finite \(NaN\) after the prompt; its weights may be corrupt/);
      rmSync(dir, { recursive: true });
    });

    test('an index naming a shard that is not there', async () => {
      const dir = writeCheckpoint(tempDir('shard'), base, { from: TINY_LLAMA, shards: 2 });
      rmSync(join(dir, 'model-00002-of-00002.safetensors'));
      await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained(dir), /model-00002-of-00002\.safetensors not found in /);
    });

    test('a truncated shard', async () => {
      const dir = writeCheckpoint(tempDir('trunc'), base, { from: TINY_LLAMA, shards: 2 });
      const shard = join(dir, 'model-00002-of-00002.safetensors');
      const bytes = readFileSync(shard);
      writeFileSync(shard, bytes.subarray(0, bytes.length - 1000));
      await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained(dir), /model-00002-of-00002\.safetensors: tensor ".*" ends at byte \d+ but the data section is only \d+ bytes/);
    });

    test('no weights at all, or a .bin that is not a torch.save zip', async () => {
      const dir = tempDir('noweights');
      copyFileSync(join(TINY_LLAMA, 'config.json'), join(dir, 'config.json'));
      await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained(dir), /has no model\.safetensors, model\.safetensors\.index\.json, pytorch_model\.bin or pytorch_model\.bin\.index\.json/);
      writeFileSync(join(dir, 'pytorch_model.bin'), 'x');
      await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained(dir), /pytorch_model\.bin: not a torch\.save zip archive \(files saved by PyTorch before 1\.6/);
    });

    test('a missing config.json and a missing folder', async () => {
      const dir = tempDir('noconfig');
      await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained(dir), /config\.json not found in /);
      await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained('./no/such/../../folder here'), /no checkpoint folder at /);
    });

    test('quantised on WebGPU: the language model\'s linear weights as the host\'s Q8_0 / Q4_0 blocks, the rest as loaded; or the device is not there', async () => {
      if (webgpuEngine.unavailable() !== null) {
        await assert.rejects(VipLlavaForConditionalGeneration.fromPretrained(TINY_LLAMA, { device: 'webgpu', dtype: 'q8_0' }), /device "webgpu" is not available/);
        return;
      }
      for (const dtype of ['q8_0', 'q4_0'] as const) {
        const model = await VipLlavaForConditionalGeneration.fromPretrained(TINY_LLAMA, { device: 'webgpu', dtype });
        let quantised = 0;
        for (const [name, p] of namedParameters(model)) {
          const want = reference.get(name)!;
          const got = await p.value.backend.read(p.value);
          if (p.linear && p.quantize === 'always') {
            const [n] = p.shape;
            assert.deepEqual(got, dequantize(quantize(want, n, want.length / n, dtype)), `${dtype} ${name}`);
            quantised++;
          } else assert.deepEqual(got, want, `${dtype} ${name}`);
        }
        assert.ok(quantised > 0);
      }
    });
  });
});
