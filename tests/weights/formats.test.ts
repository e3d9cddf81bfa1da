/** How each parameter of a load is held: resolved once from the dtype option and the marks the model sets. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/index.node.js';
import { VipLlavaNetwork } from '../../src/models/vipllava.js';
import { DEFAULT_GENERATION_CONFIG } from '../../src/config/generation_config.js';
import { weightFormat } from '../../src/weights/formats.js';
import { TINY_LLAMA } from '../helpers/fixtures.js';

describe('weight formats', () => {
  test('8- and 4-bit loads quantise the language model\'s linears; the vision side only with quantizeVision', async () => {
    const params = new VipLlavaNetwork(await loadConfig(TINY_LLAMA), { ...DEFAULT_GENERATION_CONFIG }, null).parameters();
    for (const quantizeVision of [false, true]) {
      for (const [name, p] of params) {
        const f = weightFormat('q4_0', 'float16', p, quantizeVision);
        const language = name.startsWith('model.language_model.') || name.startsWith('lm_head.');
        const linear = /(_proj|fc\d|linear_\d|lm_head|patch_embedding)\.weight$/.test(name);
        const quantized = linear && (language || quantizeVision);
        assert.deepEqual(f, quantized ? { storage: 'q4_0', compute: 'int8', linear } : { storage: 'float16', compute: 'float32', linear }, name);
      }
    }
  });

  test('float options convert storage; bfloat16 multiplies linear layers in bf16', () => {
    const linear = { linear: true, quantize: 'always' as const };
    const norm = { linear: false, quantize: 'never' as const };
    assert.deepEqual(weightFormat('auto', 'bfloat16', linear, false), { storage: 'bfloat16', compute: 'float32', linear: true });
    assert.deepEqual(weightFormat('float32', 'float16', norm, false), { storage: 'float32', compute: 'float32', linear: false });
    assert.deepEqual(weightFormat('float16', 'bfloat16', linear, false), { storage: 'float16', compute: 'float32', linear: true });
    assert.deepEqual(weightFormat('bfloat16', 'float16', linear, false), { storage: 'bfloat16', compute: 'bfloat16', linear: true });
    assert.deepEqual(weightFormat('bfloat16', 'float16', norm, false), { storage: 'bfloat16', compute: 'float32', linear: false });
    assert.deepEqual(weightFormat('q8_0', 'float32', norm, true), { storage: 'float32', compute: 'float32', linear: false });
  });
});
