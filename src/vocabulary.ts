/**
 * The words every layer shares: configs name activations and dtypes, options name engines and devices, and
 * engines receive the same words. Plain values only; this module imports nothing.
 */

/** Activation functions by their transformers names (ACT2FN keys). */
export type Activation = 'gelu' | 'quick_gelu' | 'silu' | 'gelu_pytorch_tanh' | 'gelu_new' | 'relu';
export const ACTIVATIONS: readonly Activation[] = ['gelu', 'quick_gelu', 'silu', 'gelu_pytorch_tanh', 'gelu_new', 'relu'];

/** Floating-point dtypes a checkpoint stores and an engine may keep. */
export type FloatDtype = 'float32' | 'float16' | 'bfloat16';

/** What an engine holds a tensor in: a float dtype, or 32-wide quantised blocks (linear-layer weights only). */
export type TensorDtype = FloatDtype | 'q8_0' | 'q4_0';

/**
 * The `dtype` load option: 'auto' keeps the checkpoint's dtype with float32 compute; 'float32' / 'float16'
 * convert storage; 'bfloat16' stores bf16 and multiplies linear layers in bf16 where the engine can; 'q8_0' /
 * 'q4_0' quantise the linear layers marked quantisable (the language model's; the vision tower's and the
 * projector's too with `quantizeVision`).
 */
export type WeightDtype = 'auto' | TensorDtype;
export const WEIGHT_DTYPES: readonly WeightDtype[] = ['auto', 'float32', 'float16', 'bfloat16', 'q8_0', 'q4_0'];

/**
 * How one weight is held and multiplied, resolved once at load (weights/formats.ts) and handed to the engine
 * as is: the engine converts the checkpoint's tensor to `storage` itself.
 */
export interface WeightFormat {
  storage: TensorDtype;
  /** What a linear layer multiplies in: float32, bf16 products (where the engine has them), or int8 blocks. */
  compute: 'float32' | 'bfloat16' | 'int8';
  /** The weight of a linear layer, [out, ...in], which engines may repack. */
  linear: boolean;
}

/** How the KV cache holds keys and values. */
export type KVDtype = 'float32' | 'float16';
export const KV_DTYPES: readonly KVDtype[] = ['float32', 'float16'];

/** Where a model runs. */
export type Device = 'cpu' | 'webgpu';
export const DEVICES: readonly Device[] = ['cpu', 'webgpu'];

/** Which engine runs it: the compiled CPU engine, the TypeScript oracle, or the best available. */
export type EngineName = 'auto' | 'native' | 'reference';
export const ENGINE_NAMES: readonly EngineName[] = ['auto', 'native', 'reference'];
