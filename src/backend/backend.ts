import type { Tensor } from '../tensor/tensor.js';
import type { Activation, KVDtype, TensorDtype, WeightFormat } from '../vocabulary.js';

/**
 * The backend contract. Model code calls these ops through `tensor/ops.ts`; every engine (the reference
 * TypeScript kernels here, a native CPU addon, a WebGPU engine) implements them.
 *
 * Rules:
 * - Ops enqueue work and return a handle at once; only `read()` waits. A GPU engine can therefore record a
 *   whole forward pass into one submission while model code stays eager and readable.
 * - Tensors are contiguous and row-major. Activations are float32. Weights keep the checkpoint's layout
 *   (`[out, in]` for linear layers) and may keep the checkpoint's dtype (float16/bfloat16).
 * - A backend that cannot run an op, dtype or shape says so in `check()` when the model loads (it sees every
 *   parameter's shape and format), never in the middle of a generation.
 * - What every layer of one forward shares (positions, rotary frequencies, the key mask) is handed over once
 *   per forward as PositionInputs, so an engine uploads it once.
 * - Engines are made by backend/registry.ts; nothing else names one.
 * - The reference backend is the oracle every other backend is tested against; it is never removed.
 */
export abstract class DeviceTensor {
  abstract readonly backend: Backend;
  abstract readonly dims: readonly number[];
  /** float32 for activations; weights may stay float16/bfloat16, or be quantised by an engine that can. */
  abstract readonly dtype: TensorDtype;
  get size(): number {
    return this.dims.reduce((a, b) => a * b, 1);
  }
}

/** The positions, rotary frequencies and key mask of one forward, as host arrays. */
export interface HostPositionInputs {
  /** One position id per (row, token), [batch·seq]. */
  positions?: Int32Array;
  /** Rotary inverse frequencies [headDim / 2] and the cos/sin scaling. */
  invFreq?: Float32Array;
  ropeScaling?: number;
  /** [batch, kvLength] 1 where a key may be attended to (the 2-D attention mask; it masks keys only). */
  keyMask?: Uint8Array;
}

/**
 * What one forward's layers share, handed to the engine once (`positionInputs()`) and passed to every rope and
 * attention op of that forward. CPU engines read the host arrays; a GPU engine subclasses it to hold buffers.
 */
export class PositionInputs {
  constructor(
    readonly backend: Backend,
    readonly host: Readonly<HostPositionInputs>,
  ) {}

  /** Frees what the engine made for them, once the forward's ops are recorded (a GPU engine's buffers). */
  release(): void {}
}

/** How an engine laid out a weight it repacked, enough to import the same bytes again. */
export interface PackedEntry {
  /** The engine's layout code. */
  format: number;
  n: number;
  k: number;
  dims: number[];
  dtype: string;
  bytes: number;
}

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
  /** This forward's inputs, whose key mask applies (none: every key up to kvLength may be seen). */
  keyMask?: PositionInputs;
  /** Keys further back than this many positions are masked (Mistral): allowed iff kv > q - window. */
  slidingWindow?: number;
}

export interface Backend {
  readonly name: string;
  /** One line on what runs: the engine and, for a compiled one, its kernels and threads. */
  describe(): string;
  /** True when upload() copies the data, so the caller may reuse the tensor's buffer afterwards. */
  readonly copiesOnUpload?: boolean;

  /** Throws if a parameter (its shape, its format) or an activation the model needs cannot run here; called once at load. */
  check(needs: { parameters: ReadonlyArray<{ name: string; shape: readonly number[]; format: WeightFormat }>; activations: readonly Activation[] }): void;

  // -- memory -------------------------------------------------------------------------------------------
  /**
   * Takes ownership of a weight and holds it as `format` says (converting the tensor to its storage, repacking
   * a linear weight [out, ...in] for the engine's kernels). Default: as stored, float32 compute, not linear.
   */
  upload(t: Tensor, format?: WeightFormat): DeviceTensor;
  fromHost(data: Float32Array, dims: readonly number[]): DeviceTensor;
  /**
   * A zero tensor. 'float16' makes a KV-cache buffer: writeAt rounds float32 rows into it (to nearest even),
   * and attention, writeAt, narrow, indexSelect and read accept it; other ops need float32.
   */
  zeros(dims: readonly number[], dtype?: KVDtype): DeviceTensor;
  /** The only op that waits: the tensor's values as float32. */
  read(x: DeviceTensor): Promise<Float32Array>;
  /** Resolves once every enqueued op has run (for timing, and before a GPU engine's buffers are reused). */
  flush(): Promise<void>;
  release(x: DeviceTensor): void;
  /**
   * Runs `fn` and releases every tensor it created except the one it returns (and tensors sharing its
   * memory). Engines that free by garbage collection alone may leave this out.
   */
  tidy?(fn: () => DeviceTensor): DeviceTensor;

  /** One forward's positions, frequencies and key mask, handed over once for all its layers. */
  positionInputs(host: HostPositionInputs): PositionInputs;

  // -- packed weights (engines that repack at load; weights/ keeps them, on disk or elsewhere) ----------------
  /** How linear weights of `format` are laid out right now (part of a packed-cache key), or null if not repacked. */
  packedLayout?(format: WeightFormat): string | null;
  /** The layout of a weight this engine repacked, or null. */
  packedEntry?(t: DeviceTensor): PackedEntry | null;
  /** The bytes of a repacked weight (complete once upload() returned it; possibly a view of engine memory). */
  exportPacked?(t: DeviceTensor): Uint8Array;
  /**
   * A weight from the bytes exportPacked() gave for the same entry: `fill` writes them into the memory it is
   * handed (`entry.bytes` long), which an engine may make its own, so the bytes are not copied again.
   */
  importPacked?(entry: PackedEntry, fill: (into: ArrayBuffer) => Promise<unknown>): Promise<DeviceTensor>;

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
  /** Conv2d with stride = kernel, no bias: pixels [N, C, S, S] and weight [hidden, C, p, p] → [N, (S/p)², hidden]. */
  patchEmbed(pixels: DeviceTensor, weight: DeviceTensor): DeviceTensor;
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
   * Rotary embedding, half-split convention, on x [B, S, heads·headDim] with one position per (b, s) row from
   * `inputs`: angle_i = float32(invFreq[i] · pos); cos/sin scaled by ropeScaling.
   */
  rope(x: DeviceTensor, inputs: PositionInputs, headDim: number): DeviceTensor;
  /** Scaled dot-product attention; q [B, S, nh·d], k/v [B, T, nkv·d] → [B, S, nh·d]. */
  attention(q: DeviceTensor, k: DeviceTensor, v: DeviceTensor, o: AttentionOptions): DeviceTensor;
}
