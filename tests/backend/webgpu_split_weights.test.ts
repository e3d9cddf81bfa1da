/**
 * Weights larger than the GPU's largest storage binding are split by rows over several buffers (the 7B's fp16
 * embedding and lm_head, 262 MB, against the 128 MiB of a browser or llvmpipe). Here the engine is told a small
 * buffer limit, so that ordinary weights split: linear (every weight format, bias, decode and prefill rows) and
 * embedding give what the unsplit weights give, the shipped model generates the reference engine's tokens, and
 * any other op refuses a split weight by name. Skipped without an adapter, unless $VIPLLAVA_REQUIRE_WEBGPU is set.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { dawnDevice } from '../../src/backend/webgpu/dawn.node.js';
import { WebGPUBackend } from '../../src/backend/webgpu/webgpu_backend.js';
import { DEFAULT_MODEL, VipLlavaForConditionalGeneration } from '../../src/index.node.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { float32ToHalf } from '../../src/tensor/float16.js';

let device: GPUDevice | null = null;
let why = '';
try {
  device = (await dawnDevice()).device;
} catch (e) {
  why = (e as Error).message;
  if (process.env.VIPLLAVA_REQUIRE_WEBGPU) throw e;
}
after(() => device?.destroy());

let seed = 7;
const randn = (n: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1);

describe('weights split over buffers', { skip: device ? false : why }, () => {
  test('linear and embedding on split weights give exactly what the whole weights give', async () => {
    const whole = new WebGPUBackend(device!);
    const split = new WebGPUBackend(device!, { maxWeightBuffer: 1024 });
    for (const storage of ['float32', 'float16', 'bfloat16', 'q8_0', 'q4_0'] as const) {
      for (const [m, k, n] of [[1, 96, 301], [3, 64, 97], [9, 40, 130]]) {
        const w = new Tensor('float16', Uint16Array.from(randn(n * k), float32ToHalf), [n, k]);
        const bias = new Tensor('float32', randn(n), [n]);
        const x = randn(m * k);
        const format = { storage, compute: storage.startsWith('q') ? ('int8' as const) : ('float32' as const), linear: true };
        const run = (be: WebGPUBackend) => be.read(be.linear(be.fromHost(x, [m, k]), be.upload(w, format), be.upload(bias)));
        const held = split.upload(w, format);
        assert.ok((held as unknown as { parts?: unknown[] }).parts!.length > 1, `${storage} [${n}, ${k}] is split`);
        assert.deepEqual(await split.read(held), await whole.read(whole.upload(w, format)), `${storage} [${n}, ${k}] reads back whole`);
        assert.deepEqual(await run(split), await run(whole), `${storage} m=${m} k=${k} n=${n}`);
      }
    }
    const table = new Tensor('float16', Uint16Array.from(randn(500 * 24), float32ToHalf), [500, 24]);
    const ids = Int32Array.from([0, 499, 7, 250, 7, 85, 86, 3]);
    const rows = async (be: WebGPUBackend) => be.read(be.embedding(be.upload(table), ids));
    assert.deepEqual(await rows(split), await rows(whole));

    const held = split.upload(table);
    assert.throws(() => split.add(held, held), /a weight \[500, 24\] split over \d+ buffers .* goes only into linear, as the weight, and embedding/);
    assert.throws(() => new WebGPUBackend(device!, { maxWeightBuffer: 40 }).upload(table), /a row of the weight \[500, 24\] exceeds this GPU's largest storage binding \(40 bytes\)/);
  });

  test('the shipped model with its embedding and lm_head split generates the reference engine\'s tokens', async () => {
    const backend = new WebGPUBackend(device!, { maxWeightBuffer: 1 << 20 });
    const model = await VipLlavaForConditionalGeneration.fromPretrained(DEFAULT_MODEL, { backend });
    const embed = model.model.language_model.embed_tokens.weight.value as unknown as { parts?: unknown[] };
    assert.ok((embed.parts?.length ?? 0) > 4, 'the 8 MB embedding is in more than four buffers');
    const reference = await VipLlavaForConditionalGeneration.fromPretrained(DEFAULT_MODEL, { engine: 'reference' });
    const inputIds = [[1, 319, 13563, 1546, 263, 22, 33, 44], [1, 450, 4996, 17354, 1701, 3, 9, 27]];
    const [a, b] = await Promise.all([model, reference].map((m) => m.generate({ inputIds, maxNewTokens: 8, minNewTokens: 8 })));
    assert.deepEqual(Array.from(a.data as BigInt64Array), Array.from(b.data as BigInt64Array));
  });
});
