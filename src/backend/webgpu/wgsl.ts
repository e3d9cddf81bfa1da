/**
 * WGSL pieces the op shaders share: reading a tensor of any stored dtype as f32, and rounding f32 to a half the
 * way float32ToHalf does (nearest, ties to even). Halves are converted with integer operations rather than
 * unpack2x16float/pack2x16float, whose rounding and subnormals WGSL leaves to the implementation.
 */
import type { TensorDtype } from '../../vocabulary.js';

export type GpuDtype = Extract<TensorDtype, 'float32' | 'float16' | 'bfloat16'>;

// Exact without branches or f32 subnormals: normal halves by moving the bits (exponent rebiased), subnormal ones
// as an integer times 2^-24, infinities and NaN by their bits.
const HALF_TO_F32 = /* wgsl */ `
fn half_to_f32(h: u32) -> f32 {
  let sign = (h & 0x8000u) << 16u;
  let mag = h & 0x7fffu;
  let normal = (mag << 13u) + 0x38000000u;
  let special = 0x7f800000u | ((mag & 0x3ffu) << 13u);
  let bits = select(select(normal, special, mag >= 0x7c00u), bitcast<u32>(f32(mag) * 5.9604644775390625e-8), mag < 0x400u);
  return bitcast<f32>(sign | bits);
}`;

export const F32_TO_HALF = /* wgsl */ `
fn f32_to_half(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let sign = (b >> 16u) & 0x8000u;
  let e = i32((b >> 23u) & 0xffu);
  var m = b & 0x7fffffu;
  if (e == 255) { return sign | 0x7c00u | select(0u, 0x200u, m != 0u); }
  let he = e - 112;
  if (he >= 31) { return sign | 0x7c00u; }
  if (he <= 0) {
    if (he < -10) { return sign; }
    m = m | 0x800000u;
    let shift = u32(14 - he);
    var h = m >> shift;
    let rem = m & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (h & 1u) == 1u)) { h = h + 1u; }
    return sign | h;
  }
  var h = (u32(he) << 10u) | (m >> 13u);
  let rem = m & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) == 1u)) { h = h + 1u; }
  return sign | h;
}`;

/**
 * A read-only tensor at `binding` and `fn <name>_at(i: u32) -> f32` for its element i: f32 as it is, halves and
 * bfloat16 two to a 32-bit word (element 2j in the low half).
 */
export function reader(name: string, binding: number, dtype: GpuDtype): string {
  if (dtype === 'float32') {
    return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<f32>;
fn ${name}_at(i: u32) -> f32 { return ${name}[i]; }`;
  }
  const bits = `((${name}[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu)`;
  const convert = dtype === 'float16' ? `half_to_f32(${bits})` : `bitcast<f32>(${bits} << 16u)`;
  return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<u32>;
fn ${name}_at(i: u32) -> f32 { return ${convert}; }`;
}

/** The helper functions the readers of these dtypes need. */
export function helpers(...dtypes: GpuDtype[]): string {
  return dtypes.includes('float16') ? HALF_TO_F32 : '';
}

/** WGSL for the f32 value of the half or bfloat16 in the low 16 bits of `bits` (a u32 expression). */
export function unpackHalf(dtype: 'float16' | 'bfloat16', bits: string): string {
  return dtype === 'float16' ? `half_to_f32(${bits})` : `bitcast<f32>((${bits}) << 16u)`;
}

/** Bytes of n elements of a dtype as the engine stores them (halves two to a word). */
export function storedBytes(dtype: GpuDtype, n: number): number {
  return dtype === 'float32' ? 4 * n : 2 * n;
}
