/**
 * Bundled for the browser by tests/backend/webgpu_browser.test.ts (esbuild, the library's browser-safe core): the
 * WebGPU engine through navigator.gpu against the reference engine in the same page — a few ops, then the shipped
 * model loaded over HTTP range requests from the page's own origin and decoded greedily on each (the second load
 * reading the ranges the first kept in the Cache API); then loadAgain() loads it once more.
 */
import { createBackend, VipLlavaForConditionalGeneration } from '../../src/index.js';
import { ReferenceBackend } from '../../src/backend/cpu/reference_backend.js';
import type { Backend } from '../../src/backend/backend.js';

/** max |a − b| / max |b| (tests/helpers/compare.ts's measure; that file needs Node). */
function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return a.length === b.length ? diff / (scale || 1) : Infinity;
}

async function run(repo: string): Promise<unknown> {
  const gpu = await createBackend({ device: 'webgpu' });
  const ref = new ReferenceBackend();
  let seed = 5;
  const randn = (n: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1);
  const x = randn(5 * 300);
  const w = randn(70 * 300);
  const q = randn(2 * 40 * 64);
  const ops: Record<string, (be: Backend) => ReturnType<Backend['linear']>> = {
    linear: (be) => be.linear(be.fromHost(x, [5, 300]), be.fromHost(w, [70, 300])),
    gemv: (be) => be.linear(be.fromHost(x.subarray(0, 600), [2, 300]), be.fromHost(w, [70, 300])),
    rmsNorm: (be) => be.rmsNorm(be.fromHost(x, [5, 300]), be.fromHost(w.subarray(0, 300), [300]), 1e-6),
    attention: (be) => be.attention(be.fromHost(q, [2, 40, 64]), be.fromHost(q, [2, 40, 64]), be.fromHost(q, [2, 40, 64]), { numHeads: 2, numKvHeads: 2, headDim: 32, scale: 0.18, kvLength: 40, causal: { pastLength: 0 } }),
  };
  const errors: Record<string, number> = {};
  for (const [name, f] of Object.entries(ops)) errors[name] = relativeError(await gpu.read(f(gpu)), await ref.read(f(ref)));
  const ids = [[1, 319, 13563, 1546, 263, 22, 33, 44]];
  const tokens: Record<string, number[]> = {};
  for (const [name, options] of [['webgpu', { device: 'webgpu' as const }], ['reference', { engine: 'reference' as const }]] as const) {
    const model = await VipLlavaForConditionalGeneration.fromPretrained(repo, { endpoint: location.origin, ...options });
    const out = await model.generate({ inputIds: ids, maxNewTokens: 8 });
    tokens[name] = Array.from(out.data as BigInt64Array, Number);
  }
  return { adapter: gpu.describe(), errors, tokens };
}

/** The model loaded once more (its byte ranges, cached by the first loads, should come from the Cache API). */
async function loadAgain(repo: string): Promise<number> {
  const model = await VipLlavaForConditionalGeneration.fromPretrained(repo, { endpoint: location.origin, engine: 'reference' });
  return model.config.text_config.hidden_size;
}

declare const location: { origin: string };
Object.assign(globalThis, { runWebgpuChecks: run, loadAgain });
