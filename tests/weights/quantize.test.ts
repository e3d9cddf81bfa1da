/**
 * The host's Q8_0 / Q4_0 blocks (src/weights/quantize.ts, what the WebGPU engine uploads) are the native engine's
 * blocks to the bit: the same scales and quants, so both engines multiply by the same weights.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NativeBackend } from '../../src/backend/cpu/native_backend.node.js';
import { nativeAddon } from '../../src/backend/cpu/native_addon.node.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { float32ToHalf, halfToFloat32 } from '../../src/tensor/float16.js';
import { dequantize, quantize } from '../../src/weights/quantize.js';

let seed = 5;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;

test('Q8_0 and Q4_0 blocks equal the native packer\'s, ties and zero blocks included', { skip: nativeAddon() ? false : 'no native addon' }, async () => {
  const nat = new NativeBackend();
  const [n, k] = [37, 100]; // 4 blocks a row, the last zero-padded
  const values = Float32Array.from({ length: n * k }, rand);
  values.fill(0, 0, 32); // a zero block
  for (let t = 0; t < 32; t++) values[k + t] = (t - 16) / 16; // exact multiples of the scale: ties in Q4_0's + 8.5
  for (let t = 0; t < 32; t++) values[2 * k + t] = t === 0 ? 127 : t + 0.5; // Q8_0's scale 1: ties to even
  const w = new Tensor('float16', Uint16Array.from(values, float32ToHalf), [n, k]);
  const wide = halfToFloat32(w.data as Uint16Array);
  for (const dtype of ['q8_0', 'q4_0'] as const) {
    const ours = dequantize(quantize(wide, n, k, dtype));
    const native = await nat.read(nat.upload(w, { storage: dtype, compute: 'int8', linear: true }));
    assert.deepEqual(ours, native, dtype);
  }
});
