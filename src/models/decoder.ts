/**
 * What the Llama-family text models share (modeling_llama.py, modeling_mistral.py, modeling_phi3.py): pre-norm
 * decoder layers with RMSNorm around an attention and an MLP, rotary attention with grouped KV heads over the
 * cache, the token embedding and the final norm. Each architecture supplies its attention's projections and
 * its MLP (llama.ts, phi3.ts).
 */
import type { DeviceTensor, PositionInputs } from '../backend/backend.js';
import { rotaryDim } from '../config/rope_parameters.js';
import type { TextConfig } from '../config/text_config.js';
import * as ops from '../backend/ops.js';
import type { KVCache } from './kv_cache.js';
import { Embedding, Module, RMSNorm } from './modules.js';
import { RotaryEmbedding } from './rope.js';

/** What the text model's caller gives one forward. */
export interface TextForwardInputs {
  /** One position id per (row, token), [batch·seq]. */
  positions: Int32Array;
  /** Where new keys go; null for a forward without cache. */
  cache: KVCache | null;
  /** Keys already in the cache before this forward. */
  pastLength: number;
  /** [batch, pastLength + seq] 1 = attend; undefined when nothing is masked. */
  keyMask?: Uint8Array;
  /** Collects what output_hidden_states / output_attentions return (the forward then keeps its intermediates). */
  record?: ForwardRecord;
}

/**
 * Where a forward copies what output_hidden_states / output_attentions return, allocated by the caller outside
 * the forward's tidy scopes (so the copies outlive them; the caller releases them).
 */
export interface ForwardRecord {
  /** L + 1 tensors [B, S, hidden]: the embeddings, then each layer's output, the last after the final norm (as transformers returns them). */
  hiddenStates?: DeviceTensor[];
  /** Per layer: the rotated queries [B, S, nh·d] and the keys attended [B, past + S, nkv·d], for attentionWeights(). */
  attentions?: Array<{ q: DeviceTensor; k: DeviceTensor }>;
}

/** What every layer of one forward shares: the position inputs handed to the engine once. */
export interface TextForwardContext {
  inputs: PositionInputs;
  cache: KVCache | null;
  pastLength: number;
  keyMask?: Uint8Array;
  record?: ForwardRecord;
}

/**
 * Rotary embedding of x [B, S, heads·headDim] on the first `rotary` dims of each head; the others pass unchanged
 * (Phi-3's partial_rotary_factor).
 */
function rotate(x: DeviceTensor, inputs: PositionInputs, headDim: number, rotary: number): DeviceTensor {
  if (rotary === headDim) return ops.rope(x, inputs, headDim);
  const [b, s, width] = x.dims;
  const heads = width / headDim;
  const perHead = ops.reshape(x, [b, s, heads, headDim]); // [B, S, heads, headDim]
  const turned = ops.rope(ops.reshape(ops.narrow(perHead, 3, 0, rotary), [b, s, heads * rotary]), inputs, rotary); // [B, S, heads·rotary]
  const kept = ops.narrow(perHead, 3, rotary, headDim - rotary); // [B, S, heads, headDim - rotary]
  const joined = ops.concat([ops.reshape(turned, [b, s, heads, rotary]), kept], 3); // [B, S, heads, headDim]
  return ops.reshape(joined, [b, s, width]); // [B, S, heads·headDim]
}

/**
 * Causal attention of projected q [B, S, nh·d], k and v [B, S, nkv·d]: rotary on q and k, the new keys and
 * values appended to the cache, and the window of a sliding-window model → [B, S, nh·d].
 */
export function attend(q: DeviceTensor, k: DeviceTensor, v: DeviceTensor, c: TextConfig, layerIndex: number, ctx: TextForwardContext): DeviceTensor {
  const { head_dim: d, num_attention_heads: nh, num_key_value_heads: nkv } = c;
  const rotary = rotaryDim(c.rope_parameters, d);
  q = rotate(q, ctx.inputs, d, rotary);
  k = rotate(k, ctx.inputs, d, rotary);
  const seq = q.dims[1];
  if (ctx.cache) {
    ctx.cache.write(layerIndex, k, v);
    k = ctx.cache.keys[layerIndex]; // [B, maxLength, nkv·d], first pastLength + S rows valid
    v = ctx.cache.values[layerIndex];
  }
  const kvLength = ctx.pastLength + seq;
  const recorded = ctx.record?.attentions?.[layerIndex];
  if (recorded) {
    ops.writeAt(recorded.q, q, 1, 0);
    ops.writeAt(recorded.k, ctx.cache ? ops.narrow(k, 1, 0, kvLength) : k, 1, 0);
  }
  return ops.attention(q, k, v, {
    numHeads: nh,
    numKvHeads: nkv,
    headDim: d,
    scale: d ** -0.5,
    kvLength,
    causal: { pastLength: ctx.pastLength },
    keyMask: ctx.inputs,
    slidingWindow: c.sliding_window ?? undefined,
  });
}

/** A layer's attention (self_attn) and MLP (mlp), as each architecture defines them. */
export interface LayerParts {
  self_attn: Module & { forward(x: DeviceTensor, ctx: TextForwardContext): DeviceTensor };
  mlp: Module & { forward(x: DeviceTensor): DeviceTensor };
}

export class DecoderLayer<P extends LayerParts = LayerParts> extends Module {
  self_attn: P['self_attn'];
  mlp: P['mlp'];
  input_layernorm: RMSNorm;
  post_attention_layernorm: RMSNorm;

  constructor(c: TextConfig, parts: P) {
    super();
    this.self_attn = parts.self_attn;
    this.mlp = parts.mlp;
    this.input_layernorm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
    this.post_attention_layernorm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
  }

  forward(h: DeviceTensor, ctx: TextForwardContext): DeviceTensor {
    return ops.tidy(h, () => {
      const mid = ops.add(h, this.self_attn.forward(this.input_layernorm.forward(h), ctx));
      return ops.add(mid, this.mlp.forward(this.post_attention_layernorm.forward(mid)));
    });
  }
}

/** The text model (`model.language_model`): embed_tokens, the layers, norm. */
export class DecoderModel<P extends LayerParts = LayerParts> extends Module {
  embed_tokens: Embedding;
  layers: DecoderLayer<P>[];
  norm: RMSNorm;
  readonly rotary: RotaryEmbedding;

  constructor(
    readonly c: TextConfig,
    /** Layer i's attention and MLP. */
    parts: (layerIndex: number) => P,
  ) {
    super();
    this.embed_tokens = new Embedding(c.vocab_size, c.hidden_size);
    this.layers = Array.from({ length: c.num_hidden_layers }, (_, i) => new DecoderLayer(c, parts(i)));
    this.norm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
    this.rotary = new RotaryEmbedding(c.rope_parameters, rotaryDim(c.rope_parameters, c.head_dim), c.max_position_embeddings);
  }

  /** inputs_embeds [B, S, hidden] → final-norm hidden states [B, S, hidden]; appends to the cache. */
  forward(inputsEmbeds: DeviceTensor, f: TextForwardInputs): DeviceTensor {
    let maxPosition = 0;
    for (const p of f.positions) if (p > maxPosition) maxPosition = p;
    const { invFreq, scaling } = this.rotary.forPositions(maxPosition);
    const inputs = inputsEmbeds.backend.positionInputs({ positions: f.positions, invFreq, ropeScaling: scaling, keyMask: f.keyMask });
    const full: TextForwardContext = { inputs, cache: f.cache, pastLength: f.pastLength, keyMask: f.keyMask, record: f.record };
    const states = f.record?.hiddenStates;
    let h = inputsEmbeds;
    for (const [i, layer] of this.layers.entries()) {
      if (states) ops.writeAt(states[i], h, 1, 0);
      h = layer.forward(h, full);
    }
    inputs.release();
    f.cache?.advance(inputsEmbeds.dims[1]);
    const out = this.norm.forward(h);
    if (states) ops.writeAt(states[this.layers.length], out, 1, 0);
    return out;
  }
}
