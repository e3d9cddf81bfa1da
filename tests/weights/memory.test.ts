import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { VipLlavaConfig } from '../../src/config/vipllava_config.js';
import { VipLlavaForConditionalGeneration } from '../../src/index.node.js';
import { ROOT, TINY_LLAMA } from '../helpers/fixtures.js';
import { tempDir, writeCheckpoint } from '../helpers/checkpoints.js';
import type { RawTensor } from '../helpers/safetensors_writer.js';

/**
 * Loads `dir` in a fresh process and reports the bytes of ArrayBuffers plus native engine buffers: peak growth
 * during load, and held after.
 */
const MEASURE = `
import { VipLlavaForConditionalGeneration } from ${JSON.stringify(join(ROOT, 'dist/src/index.node.js'))};
import { nativeAddon } from ${JSON.stringify(join(ROOT, 'dist/src/backend/cpu/native_addon.node.js'))};
const settle = () => new Promise((ok) => setTimeout(ok, 100));
const bytes = () => process.memoryUsage().arrayBuffers + (nativeAddon()?.info().liveBytes ?? 0);
globalThis.gc(); await settle();
const before = bytes();
let peak = before;
const model = await VipLlavaForConditionalGeneration.fromPretrained(process.argv[1], { onProgress: () => (peak = Math.max(peak, bytes())) });
globalThis.gc(); await settle();
console.log(JSON.stringify({ peak: peak - before, held: bytes() - before, ok: !!model }));
`;

test('loading streams tensor by tensor: buffers grow by the weights once, never twice (at most one tensor more)', () => {
  // ~120 MB of fp16 weights: tiny-llama's config with a wider text model, in 4 shards.
  const dir = tempDir('big');
  const json = JSON.parse(readFileSync(join(TINY_LLAMA, 'config.json'), 'utf8'));
  Object.assign(json.text_config, { hidden_size: 768, intermediate_size: 1024, num_attention_heads: 12, num_key_value_heads: 12 });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(json));
  let total = 0;
  let largest = 0;
  const tensors: Record<string, RawTensor> = {};
  for (const [name, shape] of VipLlavaForConditionalGeneration.parameterShapes(VipLlavaConfig.fromDict(json))) {
    const count = shape.reduce((a, b) => a * b, 1);
    tensors[name] = { dtype: 'F16', shape: [...shape], bytes: new Uint8Array(count * 2) };
    total += count * 2;
    largest = Math.max(largest, count * 2);
  }
  writeCheckpoint(dir, tensors, { from: dir, shards: 4 });
  assert.ok(total > 100e6, `checkpoint is ${total} bytes`);

  // on the CPU, where the weights are host memory (a GPU engine holds them on the device)
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', MEASURE, dir], { encoding: 'utf8', env: { ...process.env, VIPLLAVA_DEVICE: '' } });
  const { peak, held } = JSON.parse(out) as { peak: number; held: number };
  // At most the weights plus one tensor in flight (an engine that repacks copies each tensor once).
  assert.ok(peak < total + 1.1 * largest, `peak growth ${peak} bytes for ${total} bytes of weights (largest tensor ${largest})`);
  assert.ok(held > 0.98 * total && held < 1.02 * total, `the model holds ${held} bytes for ${total} bytes of weights`);
  rmSync(dir, { recursive: true });
});
