import { ACTIVATIONS, type Activation, type FloatDtype } from '../vocabulary.js';
import { Fields, readDtype } from './fields.js';
import { parseRope, type RopeParameters, type RopeType } from './rope_parameters.js';

export type { RopeParameters, RopeType } from './rope_parameters.js';

export type TextModelType = 'llama' | 'mistral' | 'phi3';

/** LlamaConfig / MistralConfig / Phi3Config fields the model uses, with the class defaults applied. */
export interface TextConfig {
  model_type: TextModelType;
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  hidden_act: Activation;
  max_position_embeddings: number;
  rms_norm_eps: number;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
  tie_word_embeddings: boolean;
  /** Llama only (Mistral and Phi-3 have no biases). */
  attention_bias: boolean;
  mlp_bias: boolean;
  rope_parameters: RopeParameters;
  /** Mistral and Phi-3; null disables the window. */
  sliding_window: number | null;
  attention_dropout: number;
  initializer_range: number;
  use_cache: boolean;
  /** Llama only; transformers 5.x ignores it at inference, as this library does. */
  pretraining_tp: number;
  dtype: FloatDtype | null;
}

/** Each config class's defaults for the fields that differ between them. */
interface ClassDefaults {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  /** null: num_attention_heads */
  num_key_value_heads: number | null;
  max_position_embeddings: number;
  rms_norm_eps: number;
  bos_token_id: number;
  eos_token_id: number;
  /** null: no pad token unless the file names one */
  pad_token_id: number | null;
  /** The window when the key is absent (null: none); undefined: the class has no window (Llama ignores the key). */
  sliding_window?: number | null;
  /** Whether the config has attention_bias / mlp_bias (Llama) */
  biases: boolean;
  /** The RoPE kinds the class accepts; Phi-3 also rotates part of each head (partial_rotary_factor). */
  ropeTypes: readonly RopeType[];
  partialRotary: boolean;
}

const LLAMA: ClassDefaults = {
  vocab_size: 32000,
  hidden_size: 4096,
  intermediate_size: 11008,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: null,
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-6,
  bos_token_id: 1,
  eos_token_id: 2,
  pad_token_id: null,
  biases: true,
  ropeTypes: ['default', 'linear', 'dynamic', 'llama3'],
  partialRotary: false,
};

const MISTRAL: ClassDefaults = {
  ...LLAMA,
  intermediate_size: 14336,
  num_key_value_heads: 8,
  max_position_embeddings: 4096 * 32,
  sliding_window: 4096,
  biases: false,
};

/** Phi3Config (microsoft/Phi-3-mini-4k-instruct's shape). Its 128k "longrope" RoPE is not supported. */
const PHI3: ClassDefaults = {
  vocab_size: 32064,
  hidden_size: 3072,
  intermediate_size: 8192,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: null,
  max_position_embeddings: 4096,
  rms_norm_eps: 1e-5,
  bos_token_id: 1,
  eos_token_id: 32000,
  pad_token_id: 32000,
  sliding_window: null,
  biases: false,
  ropeTypes: ['default'],
  partialRotary: true,
};

const DEFAULTS: Record<TextModelType, ClassDefaults> = { llama: LLAMA, mistral: MISTRAL, phi3: PHI3 };

/** The file's window, else the class default; null when the class has none (Llama) or the file says null. */
function slidingWindow(f: Fields, d: ClassDefaults): number | null {
  if (d.sliding_window === undefined || f.obj.sliding_window === null) return null;
  return f.has('sliding_window') ? f.int('sliding_window', 0, { min: 1 }) : d.sliding_window;
}

export function parseTextConfig(f: Fields): TextConfig {
  const model_type = f.oneOf<TextModelType>('model_type', 'llama', ['llama', 'mistral', 'phi3']);
  const d = DEFAULTS[model_type];
  const hidden_size = f.int('hidden_size', d.hidden_size, { min: 1 });
  const num_attention_heads = f.int('num_attention_heads', d.num_attention_heads, { min: 1 });
  if (hidden_size % num_attention_heads !== 0) {
    f.fail('num_attention_heads', `(${num_attention_heads}) does not divide ${f.prefix}hidden_size (${hidden_size})`);
  }
  const num_key_value_heads = f.int('num_key_value_heads', d.num_key_value_heads ?? num_attention_heads, { min: 1 });
  if (num_attention_heads % num_key_value_heads !== 0) {
    f.fail('num_key_value_heads', `(${num_key_value_heads}) does not divide ${f.prefix}num_attention_heads (${num_attention_heads})`);
  }
  // Phi3Config has no head_dim field, but transformers' Phi-3 attention reads one off the config when it is there.
  const head_dim = f.int('head_dim', hidden_size / num_attention_heads, { min: 2 });
  if (head_dim % 2 !== 0) f.fail('head_dim', `(${head_dim}) must be even for rotary embeddings`);
  const max_position_embeddings = f.int('max_position_embeddings', d.max_position_embeddings, { min: 1 });
  const c: TextConfig = {
    model_type,
    vocab_size: f.int('vocab_size', d.vocab_size, { min: 1 }),
    hidden_size,
    intermediate_size: f.int('intermediate_size', d.intermediate_size, { min: 1 }),
    num_hidden_layers: f.int('num_hidden_layers', d.num_hidden_layers, { min: 1 }),
    num_attention_heads,
    num_key_value_heads,
    head_dim,
    hidden_act: f.oneOf('hidden_act', 'silu', ACTIVATIONS),
    max_position_embeddings,
    rms_norm_eps: f.num('rms_norm_eps', d.rms_norm_eps, { positive: true }),
    bos_token_id: f.obj.bos_token_id === null ? null : f.int('bos_token_id', d.bos_token_id),
    eos_token_id: f.obj.eos_token_id === undefined ? d.eos_token_id : f.intOrList('eos_token_id'), // null stays null
    pad_token_id: f.has('pad_token_id') ? f.int('pad_token_id', 0) : f.obj.pad_token_id === null ? null : d.pad_token_id,
    tie_word_embeddings: f.bool('tie_word_embeddings', false),
    attention_bias: d.biases ? f.bool('attention_bias', false) : false,
    mlp_bias: d.biases ? f.bool('mlp_bias', false) : false,
    rope_parameters: parseRope(f, max_position_embeddings, head_dim, { types: d.ropeTypes, partial: d.partialRotary }),
    sliding_window: slidingWindow(f, d),
    attention_dropout: f.num('attention_dropout', 0),
    initializer_range: f.num('initializer_range', 0.02),
    use_cache: f.bool('use_cache', true),
    pretraining_tp: f.int('pretraining_tp', 1, { min: 1 }),
    dtype: readDtype(f),
  };
  if (c.tie_word_embeddings) f.fail('tie_word_embeddings', 'is true, which VipLlava checkpoints never use and this library does not support');
  return c;
}
