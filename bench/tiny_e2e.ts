/**
 * End to end on the committed tiny checkpoint, the way llama-bench reports: vision encode, prefill and decode,
 * each a median after warm-up. The tiny model measures overhead, not kernels (see reference_ops.ts).
 *
 *   npm run bench:tiny
 */
import { fileURLToPath } from 'node:url';
import { VipLlavaForConditionalGeneration, Tensor } from '../src/index.node.js';
import { fmt, machine, time } from './report.js';

const dir = fileURLToPath(new URL('../../tests/fixtures/tiny-llama', import.meta.url));

async function main() {
  console.log(`machine: ${machine()}\ncheckpoint: ${dir}`);
  const model = await VipLlavaForConditionalGeneration.fromPretrained(dir);
  const c = model.config;
  const size = c.vision_config.image_size;
  const pixels = new Tensor('float32', Float32Array.from({ length: 3 * size * size }, (_, i) => Math.sin(i) * 0.5), [1, 3, size, size]);
  const prompt = [1, 319, 13563, 1546, ...Array(c.imageTokensPerImage).fill(c.image_token_index), 13, 5618, 338, 445, 29973];
  const vision = await time(() => model.getImageFeatures(pixels), { runs: 9 });
  const prefill = await time(() => model.forward({ inputIds: [prompt], pixelValues: pixels, logitsToKeep: 1 }), { runs: 9 });
  const n = 32;
  const gen = await time(() => model.generate({ inputIds: [prompt], pixelValues: pixels, maxNewTokens: n, eosTokenId: [] }), { runs: 5 });
  const decodePerToken = (gen.median - prefill.median) / (n - 1);
  console.log(`vision encode           ${fmt(vision)}`);
  console.log(`prefill ${prompt.length} tokens       ${fmt(prefill)}  → ${(prompt.length / prefill.median).toFixed(0)} tok/s`);
  console.log(`decode (generate ${n})   ${(decodePerToken * 1e3).toFixed(2)} ms/token → ${(1 / decodePerToken).toFixed(0)} tok/s`);
}

await main();
