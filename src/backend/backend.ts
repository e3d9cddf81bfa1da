import type { Tensor } from '../tensor/tensor.js';

/**
 * The backend contract. Model code calls these ops through `tensor/ops.ts`; every engine (the reference
 * TypeScript kernels here, a native CPU addon, a WebGPU engine) implements them.
 *
 * Rules:
 * - Ops enqueue work and return a handle at once; only `read()` waits. A GPU engine can therefore record a
 *   whole forward pass into one submission while model code stays eager and readable.
 * - Tensors are contiguous and row-major. Activations are float32. Weights keep the checkpoint's layout
 *   (`[out, in]` for linear layers) and may keep the checkpoint's dtype (float16/bfloat16).
 * - A backend that cannot run an op or dtype says so in `check()` when the model loads, never in the middle
 *   of a generation.
 * - The reference backend is the oracle every other backend is tested against; it is never removed.
 */
export abstract class DeviceTensor {
  abstract readonly backend: Backend;
  abstract readonly dims: readonly number[];
  /** float32 for activations; weights may stay float16/bfloat16, or be quantised by an engine that can. */
  abstract readonly dtype: 'float32' | 'float16' | 'bfloat16' | 'q8_0' | 'q4_0';
  get size(): number {
    return this.dims.reduce((a, b) => a * b, 1);
  }
}

/** Activation functions by their transformers names (ACT2FN keys). */
export type Activation = 'gelu' | 'quick_gelu' | 'silu' | 'gelu_pytorch_tanh' | 'gelu_new' | 'relu';
export const ACTIVATIONS: readonly Activation[] = ['gelu', 'quick_gelu', 'silu', 'gelu_pytorch_tanh', 'gelu_new', 'relu'];

/**
 * How a linear layer's weight is to be computed with, chosen at load: 'auto' keeps the stored dtype with fp32
 * compute; 'bfloat16' multiplies bf16 weights by bf16-rounded activations; 'q8_0' / 'q4_0' quantise weights in
 * 32-wide blocks (activations quantised to int8 per block). Engines without a format refuse it in check().
 */
export type LinearFormat = 'auto' | 'bfloat16' | 'q8_0' | 'q4_0';

/** How the KV cache holds keys and values. */
export type KVDtype = 'float32' | 'float16';
export const KV_DTYPES: readonly KVDtype[] = ['float32', 'float16'];

export interface AttentionOptions {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Multiplier of q·k (head_dim^-0.5). */
  scale: number;
  /** Number of valid key/value rows; k and v may be longer (a preallocated cache of [B, maxLen, ...]). */
  kvLength: number;
  /** Causal attention: query s sits at key index `pastLength + s` and sees keys at indices <= its own. */
  causal?: { pastLength: number };
  /** [batch, kvLength] 1 where a key may be attended to (the 2-D attention mask; it masks keys only). */
  keyMask?: Uint8Array;
  /** Keys further back than this many positions are masked (Mistral): allowed iff kv > q - window. */
  slidingWindow?: number;
}

export interface Backend {
  readonly name: string;
  /** True when upload() copies the data, so the caller may reuse the tensor's buffer afterwards. */
  readonly copiesOnUpload?: boolean;

  /** Throws if a dtype or activation the model needs is unsupported (called once at load). */
  check(needs: { weightDtypes: readonly string[]; activations: readonly Activation[] }): void;

  // -- memory -------------------------------------------------------------------------------------------
  /**
   * Takes ownership of a weight; `keepDtype` false widens half weights to float32. `linear` marks the weight
   * of a linear layer ([out, ...in]) and the format it is to be computed in; engines may repack it.
   */
  upload(t: Tensor, keepDtype: boolean, linear?: LinearFormat): DeviceTensor;
  fromHost(data: Float32Array, dims: readonly number[]): DeviceTensor;
  /**
   * A zero tensor. 'float16' makes a KV-cache buffer: writeAt rounds float32 rows into it (to nearest even),
   * and attention, writeAt, narrow, indexSelect and read accept it; other ops need float32.
   */
  zeros(dims: readonly number[], dtype?: KVDtype): DeviceTensor;
  /** The only op that waits: the tensor's values as float32. */
  read(x: DeviceTensor): Promise<Float32Array>;
  release(x: DeviceTensor): void;
  /**
   * Runs `fn` and releases every tensor it created except the one it returns (and tensors sharing its
   * memory). Engines that free by garbage collection alone may leave this out.
   */
  tidy?(fn: () => DeviceTensor): DeviceTensor;

  // -- layout -------------------------------------------------------------------------------------------
  /** Same data, new dims (same element count). */
  reshape(x: DeviceTensor, dims: readonly number[]): DeviceTensor;
  /** Elements `[start, start + length)` along `dim`. */
  narrow(x: DeviceTensor, dim: number, start: number, length: number): DeviceTensor;
  concat(xs: readonly DeviceTensor[], dim: number): DeviceTensor;
  /** Repeat along leading dims of size 1 to reach `dims`. */
  expand(x: DeviceTensor, dims: readonly number[]): DeviceTensor;
  /** In place: dst[..., offset:offset+n, ...] = src along `dim` (KV-cache append). */
  writeAt(dst: DeviceTensor, src: DeviceTensor, dim: number, offset: number): void;
  /** Slices of x along dim 0 in the order of `indices` → [indices.length, ...] (beam reordering). */
  indexSelect(x: DeviceTensor, indices: Int32Array): DeviceTensor;
  /** Rows of `table` [V, H] picked by `ids` → [ids.length, H]. */
  embedding(table: DeviceTensor, ids: Int32Array): DeviceTensor;
  /** Copy of `dst` [n, H] whose rows `rows[i]` are replaced by row i of `src` [rows.length, H]. */
  scatterRows(dst: DeviceTensor, rows: Int32Array, src: DeviceTensor): DeviceTensor;

  // -- math (float32 activations) ----------------------------------------------------------------------
  /** x[..., K] · w[N, K]ᵀ + bias[N] → [..., N]. */
  linear(x: DeviceTensor, w: DeviceTensor, bias?: DeviceTensor | null): DeviceTensor;
  /** a + b, with b broadcast over a's leading dims (b's dims are a suffix of a's). */
  add(a: DeviceTensor, b: DeviceTensor): DeviceTensor;
  /** a ⊙ b, same shapes. */
  mul(a: DeviceTensor, b: DeviceTensor): DeviceTensor;
  activation(x: DeviceTensor, kind: Activation): DeviceTensor;
  /** LayerNorm over the last dim, biased variance. */
  layerNorm(x: DeviceTensor, weight: DeviceTensor, bias: DeviceTensor, eps: number): DeviceTensor;
  /** RMSNorm over the last dim (Llama): x · rsqrt(mean(x²) + eps) · weight. */
  rmsNorm(x: DeviceTensor, weight: DeviceTensor, eps: number): DeviceTensor;
  /**
   * Rotary embedding, half-split convention, on x [B, S, heads·headDim] with one position per (b, s)
   * row: angle_i = float32(invFreq[i] · pos); cos/sin scaled by `scaling`.
   */
  rope(x: DeviceTensor, positions: Int32Array, headDim: number, invFreq: Float32Array, scaling: number): DeviceTensor;
  /** Scaled dot-product attention; q [B, S, nh·d], k/v [B, T, nkv·d] → [B, S, nh·d]. */
  attention(q: DeviceTensor, k: DeviceTensor, v: DeviceTensor, o: AttentionOptions): DeviceTensor;
}
