/** The engine registry: the one place engines are chosen, by option, by $VIPLLAVA_ENGINE, or the best that loads. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createBackend, InputError, VipLlavaError } from '../../src/index.node.js';
import { nativeAddon } from '../../src/backend/cpu/native_addon.node.js';

describe('engine registry', () => {
  test('an explicit engine, the environment, and auto', async () => {
    assert.equal((await createBackend({ engine: 'reference' })).name, 'reference');
    const saved = process.env.VIPLLAVA_ENGINE;
    try {
      process.env.VIPLLAVA_ENGINE = 'reference';
      assert.equal((await createBackend()).name, 'reference');
      process.env.VIPLLAVA_ENGINE = 'gpu9';
      await assert.rejects(createBackend(), (e: unknown) => e instanceof InputError && /^\$VIPLLAVA_ENGINE must be one of auto, native, reference, got "gpu9"$/.test((e as Error).message));
      delete process.env.VIPLLAVA_ENGINE;
      assert.equal((await createBackend()).name, nativeAddon() ? 'native' : 'reference');
      if (nativeAddon()) assert.equal((await createBackend({ engine: 'native', threads: 1 })).name, 'native');
    } finally {
      if (saved === undefined) delete process.env.VIPLLAVA_ENGINE;
      else process.env.VIPLLAVA_ENGINE = saved;
    }
  });

  test('bad options and devices without an engine are refused, naming the option', async () => {
    await assert.rejects(createBackend({ engine: 'fast' as 'auto' }), /^InputError: engine must be one of auto, native, reference, got "fast"$/);
    await assert.rejects(createBackend({ threads: 0 }), /threads must be a positive integer, got "0"/);
    await assert.rejects(createBackend({ device: 'tpu' as 'cpu' }), /device must be one of cpu, webgpu, got "tpu"/);
    await assert.rejects(createBackend({ device: 'webgpu' }), (e: unknown) => e instanceof VipLlavaError && /device "webgpu" is not available/.test((e as Error).message));
  });
});
