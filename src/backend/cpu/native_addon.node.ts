/**
 * The compiled engine (native/), loaded once through node-gyp-build: a build from source (build/Release, made by
 * `npm install` through node-gyp) where there is one, else the package's prebuilt binary for this platform
 * (prebuilds/<platform>-<arch>/, made by tools/prebuild.ts at `npm pack`). If neither loads, the library runs
 * on the reference kernels and says so once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** An opaque handle to a native buffer (freed when collected and no queued op uses it). */
export type Handle = { readonly __native: unique symbol };

/** Element types of buffers the engine reads: float32, float16, bfloat16. */
export const SRC = { float32: 0, float16: 1, bfloat16: 2 } as const;
/** Packed layouts of linear-layer weights (native/src/kernels.h). */
export const FORMAT = { f32: 0, f16: 1, bf16: 2, bf16dot: 3, q8_0: 4, q4_0: 5 } as const;
export type FormatCode = (typeof FORMAT)[keyof typeof FORMAT];
export const ACT = { gelu: 0, quick_gelu: 1, silu: 2, gelu_pytorch_tanh: 3, gelu_new: 3, relu: 4 } as const;

export interface NativeInfo {
  /** The kernel set in use ($VIPLLAVA_ISA or the best this CPU runs): avx512, avxvnni, avx2, neon-i8mm, neon-dotprod, neon, portable. */
  isa: string;
  /** What its kernels are built on, e.g. "ymm FMA, F16C, vpmaddubsw + vpmaddwd (int8)". */
  instructions: string;
  /** Whether it multiplies bf16 in hardware; without, bfloat16 weights compute in fp32 from bf16 storage. */
  bf16dot: boolean;
  /** Every kernel set this CPU runs, best first. */
  kernelSets: string[];
  threads: number;
  physicalCores: number;
  liveBytes: number;
}

export interface NativeAddon {
  info(): NativeInfo;
  /** Whether the kernel set in use multiplies bf16 in hardware (info().bf16dot without building the rest). */
  bf16dot(): boolean;
  setThreads(n: number): void;
  setKernels(isa: string): void;
  alloc(bytes: number, zero: boolean): Handle;
  release(h: Handle): void;
  fromHost(data: Float32Array | Uint16Array | Uint8Array): Handle;
  packWeight(data: Float32Array | Uint16Array, src: number, n: number, k: number, format: FormatCode): Handle;
  packBuffer(dst: Handle, src: Handle, srcType: number, n: number, k: number, format: FormatCode): void;
  packedBytes(format: FormatCode, n: number, k: number): number;
  /** The buffer's own memory as bytes, no copy (the view keeps it alive); for buffers no queued op writes. */
  view(h: Handle): Uint8Array<ArrayBuffer>;
  read(h: Handle, src: number, offset: number, count: number): Promise<Float32Array>;
  readPacked(h: Handle, format: FormatCode, n: number, k: number): Promise<Float32Array>;
  /** [fp32 GFLOP/s, bf16 GFLOP/s, int8 GOP/s, int8 × int8 GOP/s, read GB/s] measured now with every compute thread. */
  limits(seconds: number): Promise<Float32Array>;
  flush(): Promise<void>;
  setProfiling(on: boolean): void;
  profile(reset: boolean): Record<string, [number, number]>;
  widen(dst: Handle, src: Handle, srcType: number, count: number): void;
  /** Copies rows of elements; dstType/srcType are SRC.float32 or SRC.float16 (converted as copied). */
  copy2d(dst: Handle, dstOffset: number, dstStride: number, src: Handle, srcOffset: number, srcStride: number, rows: number, rowLength: number, dstType: number, srcType: number): void;
  /** float32 pixels [images, channels, size, size] → [images, patches, channels·patch²] rows. */
  im2col(dst: Handle, src: Handle, images: number, channels: number, size: number, patch: number): void;
  gather(dst: Handle, table: Handle, srcType: number, ids: Int32Array, width: number): void;
  linear(y: Handle, x: Handle, w: Handle, bias: Handle | null, m: number, k: number, n: number, format: FormatCode): void;
  add(y: Handle, a: Handle, b: Handle, n: number, nb: number): void;
  mul(y: Handle, a: Handle, b: Handle, n: number): void;
  activation(y: Handle, x: Handle, n: number, kind: number): void;
  layerNorm(y: Handle, x: Handle, w: Handle, b: Handle, rows: number, h: number, eps: number): void;
  rmsNorm(y: Handle, x: Handle, w: Handle, rows: number, h: number, eps: number): void;
  rope(y: Handle, x: Handle, rows: number, width: number, positions: Int32Array, headDim: number, invFreq: Float32Array, scaling: number): void;
  attention(out: Handle, q: Handle, k: Handle, v: Handle, dims: Float64Array, scale: number, keyMask: Uint8Array | null, kvType: number): void;
}

let addon: NativeAddon | null | undefined;
let failure = '';

/** The addon, or null when it is not built or does not load (nativeFailure() says why). */
export function nativeAddon(): NativeAddon | null {
  if (addon === undefined && process.env.VIPLLAVA_NO_NATIVE) {
    addon = null;
    failure = 'disabled by $VIPLLAVA_NO_NATIVE';
  }
  if (addon === undefined) {
    try {
      const load = createRequire(import.meta.url)('node-gyp-build') as (dir: string) => unknown;
      addon = load(fileURLToPath(new URL('../../../../', import.meta.url))) as NativeAddon;
    } catch (e) {
      addon = null;
      const recorded = fileURLToPath(new URL('../../../../build/native-build-failed.txt', import.meta.url)); // native/record_build_failure.mjs
      failure = existsSync(recorded) ? readFileSync(recorded, 'utf8').trim() : (e as Error).message.split('\n')[0];
    }
  }
  return addon;
}

export function nativeFailure(): string {
  nativeAddon();
  return failure;
}
