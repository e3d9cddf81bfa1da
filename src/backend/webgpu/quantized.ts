/**
 * Q8_0 / Q4_0 weights [N, K] in one GPU buffer: first the quants, row-major, then the float16 scales [N, blocks].
 * - Q8_0: 32 int8 per block (two's complement), so a 16-byte read is half a block.
 * - Q4_0: 16 bytes per block; byte i holds element i in its low nibble and element 16 + i in its high one
 *   (llama.cpp's order), so a 16-byte read is one block.
 * The kernels find the scales at word `scales` of the buffer (parameter `scales`), `blocks` per row.
 */
import { QBLOCK, type QuantBlocks, type QuantDtype } from '../../weights/quantize.js';

/** Bytes of the quants of n rows of `blocks` blocks. */
const quantBytes = (dtype: QuantDtype, n: number, blocks: number) => n * blocks * (dtype === 'q8_0' ? QBLOCK : QBLOCK / 2);

/** The word where the scales start, and the buffer's size in bytes. */
export function quantLayout(dtype: QuantDtype, n: number, k: number): { blocks: number; scales: number; bytes: number } {
  const blocks = Math.ceil(k / QBLOCK);
  const scales = quantBytes(dtype, n, blocks) / 4;
  return { blocks, scales, bytes: 4 * (scales + Math.ceil((n * blocks) / 2)) };
}

export function packBlocks(b: QuantBlocks): Uint8Array {
  const { scales, bytes } = quantLayout(b.dtype, b.n, b.k);
  const out = new Uint8Array(bytes);
  if (b.dtype === 'q8_0') out.set(new Uint8Array(b.q.buffer, b.q.byteOffset, b.q.byteLength));
  else {
    for (let blk = 0; blk < b.n * b.blocks; blk++) {
      for (let i = 0; i < 16; i++) out[blk * 16 + i] = b.q[blk * QBLOCK + i] | (b.q[blk * QBLOCK + 16 + i] << 4);
    }
  }
  out.set(new Uint8Array(b.scales.buffer, b.scales.byteOffset, b.scales.byteLength), 4 * scales);
  return out;
}

export function unpackBlocks(bytes: Uint8Array, dtype: QuantDtype, n: number, k: number): QuantBlocks {
  const { blocks, scales } = quantLayout(dtype, n, k);
  const scaleBits = new Uint16Array(bytes.buffer.slice(bytes.byteOffset + 4 * scales, bytes.byteOffset + 4 * scales + 2 * n * blocks));
  if (dtype === 'q8_0') return { dtype, n, k, blocks, q: new Int8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + n * blocks * QBLOCK)), scales: scaleBits };
  const q = new Uint8Array(n * blocks * QBLOCK);
  for (let blk = 0; blk < n * blocks; blk++) {
    for (let i = 0; i < 16; i++) {
      const byte = bytes[blk * 16 + i];
      q[blk * QBLOCK + i] = byte & 15;
      q[blk * QBLOCK + 16 + i] = byte >> 4;
    }
  }
  return { dtype, n, k, blocks, q, scales: scaleBits };
}

/**
 * WGSL for a quantised weight at `binding` (an array<u32>, or array<vec4<u32>> for the vector kernels) and
 * `fn w_rc(row, kk) -> f32`, its element (row, kk), for the kernels that read one value at a time. Needs
 * half_to_f32 and the parameters `blocks` and `scales`.
 */
export function quantReader(dtype: QuantDtype, binding: number): string {
  const quant =
    dtype === 'q8_0'
      ? `let i = row * p.blocks * 32u + kk;
  let q = f32(bitcast<i32>(w[i >> 2u] << (24u - (i & 3u) * 8u)) >> 24u);`
      : `let byte = (row * p.blocks + kk / 32u) * 16u + kk % 16u;
  let q = f32(((w[byte >> 2u] >> ((byte & 3u) * 8u + select(0u, 4u, kk % 32u >= 16u))) & 15u)) - 8.0;`;
  return `@group(0) @binding(${binding}) var<storage, read> w: array<u32>;
fn w_scale(blk: u32) -> f32 { return half_to_f32((w[p.scales + (blk >> 1u)] >> ((blk & 1u) * 16u)) & 0xffffu); }
fn w_rc(row: u32, kk: u32) -> f32 {
  ${quant}
  return q * w_scale(row * p.blocks + kk / 32u);
}`;
}
