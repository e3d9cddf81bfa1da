/** The engine registry: the one place engines are chosen, by option, by $VIPLLAVA_ENGINE / $VIPLLAVA_DEVICE, or the best that loads. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createBackend, InputError, VipLlavaError } from '../../src/index.node.js';
import { nativeAddon } from '../../src/backend/cpu/native_addon.node.js';
import { webgpuEngine } from '../../src/backend/webgpu/webgpu_engine.node.js';

/** Runs fn with these environment variables set (undefined: unset), restoring them after. */
async function withEnv(vars: Record<string, string | undefined>, fn: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
    }
  };
  set(vars);
  try {
    await fn();
  } finally {
    set(saved);
  }
}
const webgpuHere = webgpuEngine.unavailable() === null;

describe('engine registry', () => {
  test('an explicit engine, the environment, and auto', async () => {
    await withEnv({ VIPLLAVA_ENGINE: undefined, VIPLLAVA_DEVICE: undefined }, async () => {
      assert.equal((await createBackend({ engine: 'reference' })).name, 'reference');
      process.env.VIPLLAVA_ENGINE = 'reference';
      assert.equal((await createBackend()).name, 'reference');
      process.env.VIPLLAVA_ENGINE = 'gpu9';
      await assert.rejects(createBackend(), (e: unknown) => e instanceof InputError && /^\$VIPLLAVA_ENGINE must be one of auto, native, reference, got "gpu9"$/.test((e as Error).message));
      delete process.env.VIPLLAVA_ENGINE;
      assert.equal((await createBackend()).name, nativeAddon() ? 'native' : 'reference');
      if (nativeAddon()) assert.equal((await createBackend({ engine: 'native', threads: 1 })).name, 'native');
      // $VIPLLAVA_DEVICE picks the device where nothing else was asked for; an explicit engine or device wins
      process.env.VIPLLAVA_DEVICE = 'tpu';
      await assert.rejects(createBackend(), /^InputError: \$VIPLLAVA_DEVICE must be one of cpu, webgpu, got "tpu"$/);
      assert.equal((await createBackend({ engine: 'reference' })).name, 'reference');
      assert.equal((await createBackend({ device: 'cpu', engine: 'reference' })).name, 'reference');
      if (webgpuHere) {
        process.env.VIPLLAVA_DEVICE = 'webgpu';
        assert.equal((await createBackend()).name, 'webgpu');
      }
    });
  });

  test('bad options and devices without an engine are refused, naming the option', async () => {
    await assert.rejects(createBackend({ engine: 'fast' as 'auto' }), /^InputError: engine must be one of auto, native, reference, got "fast"$/);
    await assert.rejects(createBackend({ threads: 0 }), /threads must be a positive integer, got "0"/);
    await assert.rejects(createBackend({ device: 'tpu' as 'cpu' }), /device must be one of cpu, webgpu, got "tpu"/);
    await assert.rejects(createBackend({ device: 'webgpu', engine: 'native' }), /engine "native" runs on the CPU, not on device "webgpu"/);
    if (webgpuHere) {
      assert.equal((await createBackend({ device: 'webgpu' })).name, 'webgpu');
      await withEnv({ VIPLLAVA_WEBGPU_BACKEND: 'metal' }, async () => {
        await assert.rejects(createBackend({ device: 'webgpu' }), /the WebGPU backend must be one of vulkan, opengles, got "metal"/);
      });
    } else {
      await assert.rejects(createBackend({ device: 'webgpu' }), (e: unknown) => e instanceof VipLlavaError && /device "webgpu" is not available/.test((e as Error).message));
    }
  });
});
