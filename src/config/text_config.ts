import { ACTIVATIONS, type Activation, type FloatDtype } from '../vocabulary.js';
import { Fields, isObject, readDtype, show } from './fields.js';

export type RopeType = 'default' | 'linear' | 'dynamic' | 'llama3';
export const ROPE_TYPES: readonly RopeType[] = ['default', 'linear', 'dynamic', 'llama3'];

/** RoPE settings in the 5.x `rope_parameters` form, whichever spelling the file used. */
export interface RopeParameters {
  rope_type: RopeType;
  rope_theta: number;
  factor?: number;
  low_freq_factor?: number;
  high_freq_factor?: number;
  original_max_position_embeddings?: number;
}

/** LlamaConfig / MistralConfig fields the model uses, with the class defaults applied. */
export interface TextConfig {
  model_type: 'llama' | 'mistral';
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
  attention_bias: boolean;
  mlp_bias: boolean;
  rope_parameters: RopeParameters;
  /** Mistral only; null disables the window. */
  sliding_window: number | null;
  attention_dropout: number;
  initializer_range: number;
  use_cache: boolean;
  /** Llama only; transformers 5.x ignores it at inference, as this library does. */
  pretraining_tp: number;
  dtype: FloatDtype | null;
}

const LLAMA = {
  vocab_size: 32000,
  hidden_size: 4096,
  intermediate_size: 11008,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: null as number | null, // = num_attention_heads
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-6,
};

const MISTRAL = {
  vocab_size: 32000,
  hidden_size: 4096,
  intermediate_size: 14336,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8 as number | null,
  max_position_embeddings: 4096 * 32,
  rms_norm_eps: 1e-6,
};

export const DEFAULT_ROPE_THETA = 10000;

export function parseTextConfig(f: Fields): TextConfig {
  const model_type = f.oneOf('model_type', 'llama', ['llama', 'mistral'] as const);
  const d = model_type === 'llama' ? LLAMA : MISTRAL;
  const hidden_size = f.int('hidden_size', d.hidden_size, { min: 1 });
  const num_attention_heads = f.int('num_attention_heads', d.num_attention_heads, { min: 1 });
  if (hidden_size % num_attention_heads !== 0) {
    f.fail('num_attention_heads', `(${num_attention_heads}) does not divide ${f.prefix}hidden_size (${hidden_size})`);
  }
  const num_key_value_heads = f.int('num_key_value_heads', d.num_key_value_heads ?? num_attention_heads, { min: 1 });
  if (num_attention_heads % num_key_value_heads !== 0) {
    f.fail('num_key_value_heads', `(${num_key_value_heads}) does not divide ${f.prefix}num_attention_heads (${num_attention_heads})`);
  }
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
    bos_token_id: f.obj.bos_token_id === null ? null : f.int('bos_token_id', 1),
    eos_token_id: f.obj.eos_token_id === undefined ? 2 : f.intOrList('eos_token_id'), // null stays null
    pad_token_id: f.has('pad_token_id') ? f.int('pad_token_id', 0) : null, // no class default
    tie_word_embeddings: f.bool('tie_word_embeddings', false),
    attention_bias: model_type === 'llama' ? f.bool('attention_bias', false) : false,
    mlp_bias: model_type === 'llama' ? f.bool('mlp_bias', false) : false,
    rope_parameters: parseRope(f, max_position_embeddings),
    sliding_window: model_type === 'mistral' && f.obj.sliding_window !== null ? f.int('sliding_window', 4096, { min: 1 }) : null,
    attention_dropout: f.num('attention_dropout', 0),
    initializer_range: f.num('initializer_range', 0.02),
    use_cache: f.bool('use_cache', true),
    pretraining_tp: f.int('pretraining_tp', 1, { min: 1 }),
    dtype: readDtype(f),
  };
  if (c.tie_word_embeddings) f.fail('tie_word_embeddings', 'is true, which VipLlava checkpoints never use and this library does not support');
  return c;
}

/**
 * Reads `rope_parameters` (5.x) or `rope_theta` + `rope_scaling` (4.x; `type` or `rope_type`) into one form,
 * filling what transformers fills: theta 10000, type "default", llama3's original length from
 * max_position_embeddings.
 */
function parseRope(f: Fields, maxPositions: number): RopeParameters {
  const key = f.has('rope_parameters') ? 'rope_parameters' : 'rope_scaling';
  const raw = f.obj[key];
  if (raw !== undefined && raw !== null && !isObject(raw)) f.fail(key, `must be an object, got ${show(raw)}`);
  const r = new Fields((raw as Record<string, unknown>) ?? {}, `${f.prefix}${key}.`, f.source);
  const type = r.has('rope_type') ? 'rope_type' : 'type';
  const rope_type = r.oneOf(type, 'default', ROPE_TYPES);
  const p: RopeParameters = {
    rope_type,
    rope_theta: r.num('rope_theta', f.num('rope_theta', DEFAULT_ROPE_THETA, { positive: true }), { positive: true }),
  };
  const partial = r.num('partial_rotary_factor', f.num('partial_rotary_factor', 1));
  if (partial !== 1) r.fail('partial_rotary_factor', `(${partial}) is not supported (only 1.0 is)`);
  if (rope_type !== 'default') {
    if (!r.has('factor')) r.fail('factor', `is required for rope type "${rope_type}"`);
    p.factor = r.num('factor', 1, { positive: true });
  }
  if (rope_type === 'llama3') {
    for (const k of ['low_freq_factor', 'high_freq_factor'] as const) {
      if (!r.has(k)) r.fail(k, 'is required for rope type "llama3"');
      p[k] = r.num(k, 1, { positive: true });
    }
    p.original_max_position_embeddings = r.int('original_max_position_embeddings', maxPositions, { min: 1 });
  }
  return p;
}
