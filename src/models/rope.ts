/**
 * Rotary embedding frequencies, computed as transformers computes them (modeling_rope_utils.py): float32
 * `inv_freq[i] = 1 / theta^(2i/d)`, then the rope type's adjustment. "dynamic" (NTK) is stateful exactly
 * as transformers' `dynamic_rope_update`: frequencies are recomputed when a forward reaches a longer
 * sequence than any before, and reset when a short sequence comes after a long one.
 */
import type { RopeParameters } from '../config/text_config.js';

const f32 = Math.fround;

function baseInvFreq(theta: number, dim: number): Float32Array {
  const inv = new Float32Array(dim / 2);
  const base = f32(theta);
  for (let i = 0; i < dim / 2; i++) inv[i] = f32(1 / f32(base ** f32((2 * i) / dim)));
  return inv;
}

/** inv_freq and the cos/sin scaling for a sequence of `seqLen` (only "dynamic" depends on it). */
export function ropeFrequencies(
  p: RopeParameters,
  headDim: number,
  maxPositions: number,
  seqLen?: number,
): { invFreq: Float32Array; scaling: number } {
  const dim = headDim;
  switch (p.rope_type) {
    case 'default':
      return { invFreq: baseInvFreq(p.rope_theta, dim), scaling: 1 };
    case 'linear': {
      const inv = baseInvFreq(p.rope_theta, dim);
      for (let i = 0; i < inv.length; i++) inv[i] = f32(inv[i] / f32(p.factor!));
      return { invFreq: inv, scaling: 1 };
    }
    case 'dynamic': {
      const len = Math.max(seqLen ?? maxPositions, maxPositions);
      const factor = p.factor!;
      const base = p.rope_theta * ((factor * len) / maxPositions - (factor - 1)) ** (dim / (dim - 2));
      return { invFreq: baseInvFreq(base, dim), scaling: 1 };
    }
    case 'llama3': {
      const inv = baseInvFreq(p.rope_theta, dim);
      const factor = p.factor!;
      const low = p.low_freq_factor!;
      const high = p.high_freq_factor!;
      const old = p.original_max_position_embeddings!;
      const lowWavelen = old / low;
      const highWavelen = old / high;
      for (let i = 0; i < inv.length; i++) {
        const wavelen = f32((2 * Math.PI) / inv[i]);
        const scaled = wavelen > lowWavelen ? f32(inv[i] / factor) : inv[i];
        if (wavelen < highWavelen || wavelen > lowWavelen) {
          inv[i] = scaled;
        } else {
          const smooth = f32((old / wavelen - low) / (high - low));
          inv[i] = f32(f32(f32((1 - smooth) * scaled) / factor) + f32(smooth * scaled));
        }
      }
      return { invFreq: inv, scaling: 1 };
    }
  }
}

/** The rotary frequencies a model uses, with transformers' dynamic-NTK state. */
export class RotaryEmbedding {
  private current: { invFreq: Float32Array; scaling: number };
  private readonly original: { invFreq: Float32Array; scaling: number };
  private maxSeqLenCached: number;

  constructor(
    private readonly params: RopeParameters,
    private readonly headDim: number,
    private readonly maxPositions: number,
  ) {
    this.original = ropeFrequencies(params, headDim, maxPositions);
    this.current = this.original;
    this.maxSeqLenCached = maxPositions;
  }

  /** Frequencies for a forward whose largest position id is `maxPosition`. */
  forPositions(maxPosition: number): { invFreq: Float32Array; scaling: number } {
    if (this.params.rope_type !== 'dynamic') return this.current;
    const seqLen = maxPosition + 1;
    const cachedBefore = this.maxSeqLenCached;
    if (seqLen > cachedBefore) {
      this.current = ropeFrequencies(this.params, this.headDim, this.maxPositions, seqLen);
      this.maxSeqLenCached = seqLen;
    }
    if (seqLen < this.maxPositions && cachedBefore > this.maxPositions) {
      this.current = this.original;
      this.maxSeqLenCached = this.maxPositions;
    }
    return this.current;
  }
}
