/**
 * A WebGPU decode step, once the cache is warm, creates no GPU buffer and no bind group: the forward releases what
 * it made, the generation loop releases the logits it read, the pool hands the buffers out in a fixed order and
 * the parameters go in at dynamic offsets, so every step reuses the last one's bind groups. Counted by wrapping
 * the device's create calls while the shipped model generates. Skipped without an adapter, unless
 * $VIPLLAVA_REQUIRE_WEBGPU is set (CI).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dawnDevice } from '../../src/backend/webgpu/dawn.node.js';
import { WebGPUBackend } from '../../src/backend/webgpu/webgpu_backend.js';
import { DEFAULT_MODEL, VipLlavaForConditionalGeneration } from '../../src/index.node.js';

let device: GPUDevice | null = null;
let label = '';
let why = '';
try {
  const d = await dawnDevice();
  device = d.device;
  label = d.label;
} catch (e) {
  why = (e as Error).message;
  if (process.env.VIPLLAVA_REQUIRE_WEBGPU) throw e;
}

test('a warm WebGPU decode step creates no buffers and no bind groups', { skip: device ? false : why }, async () => {
  const dev = device!;
  const created = { buffers: 0, bindGroups: 0 };
  const createBuffer = dev.createBuffer.bind(dev);
  const createBindGroup = dev.createBindGroup.bind(dev);
  dev.createBuffer = (d: GPUBufferDescriptor) => (created.buffers++, createBuffer(d));
  dev.createBindGroup = (d: GPUBindGroupDescriptor) => (created.bindGroups++, createBindGroup(d));
  try {
    const model = await VipLlavaForConditionalGeneration.fromPretrained(DEFAULT_MODEL, { backend: new WebGPUBackend(dev, { adapterLabel: label }) });
    const inputIds = [Array.from({ length: 40 }, (_, t) => 100 + ((t * 37) % 900))];
    const perStep: Array<{ buffers: number; bindGroups: number }> = [];
    for await (const _e of model.generateStream({ inputIds, maxNewTokens: 10, minNewTokens: 10 })) perStep.push({ ...created });
    assert.equal(perStep.length, 10);
    // the prefill and the first steps fill the pool and the kept bind groups; the last five steps add nothing
    const before = perStep[4];
    const last = perStep[9];
    assert.deepEqual({ buffers: last.buffers - before.buffers, bindGroups: last.bindGroups - before.bindGroups }, { buffers: 0, bindGroups: 0 });
  } finally {
    dev.createBuffer = createBuffer;
    dev.createBindGroup = createBindGroup;
    dev.destroy();
  }
});
