import { Fields, isObject, show } from './fields.js';

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
  /** Phi-3 only, and present only when below 1: the share of each head's dims that rotate (the rest pass). */
  partial_rotary_factor?: number;
}

export const DEFAULT_ROPE_THETA = 10000;

/** Head dims that rotate: int(head_dim · partial_rotary_factor), as transformers' Phi-3 rotary embedding. */
export function rotaryDim(p: RopeParameters, headDim: number): number {
  return Math.trunc(headDim * (p.partial_rotary_factor ?? 1));
}

/**
 * Reads `rope_parameters` (5.x) or `rope_theta` + `rope_scaling` (4.x; `type` or `rope_type`) into one form,
 * filling what transformers fills: theta 10000, type "default", llama3's original length from
 * max_position_embeddings. `partial` says whether the model rotates part of each head (Phi-3); elsewhere only
 * partial_rotary_factor 1 is accepted.
 */
export function parseRope(f: Fields, maxPositions: number, headDim: number, { partial = false, types = ROPE_TYPES } = {}): RopeParameters {
  const key = f.has('rope_parameters') ? 'rope_parameters' : 'rope_scaling';
  const raw = f.obj[key];
  if (raw !== undefined && raw !== null && !isObject(raw)) f.fail(key, `must be an object, got ${show(raw)}`);
  const r = new Fields((raw as Record<string, unknown>) ?? {}, `${f.prefix}${key}.`, f.source);
  const type = r.has('rope_type') ? 'rope_type' : 'type';
  const rope_type = r.oneOf(type, 'default', types);
  const p: RopeParameters = {
    rope_type,
    rope_theta: r.num('rope_theta', f.num('rope_theta', DEFAULT_ROPE_THETA, { positive: true }), { positive: true }),
  };
  const factor = r.num('partial_rotary_factor', f.num('partial_rotary_factor', 1));
  if (factor !== 1) {
    if (!partial) r.fail('partial_rotary_factor', `(${factor}) is not supported (only 1.0 is)`);
    if (!(factor > 0 && factor < 1)) r.fail('partial_rotary_factor', `must be in (0, 1], got ${factor}`);
    p.partial_rotary_factor = factor;
    const dim = rotaryDim(p, headDim);
    if (dim < 2 || dim % 2 !== 0) r.fail('partial_rotary_factor', `(${factor}) of head_dim ${headDim} rotates ${dim} dims; it must be an even number of at least 2`);
  }
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
