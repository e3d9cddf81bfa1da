/**
 * The Llama text model (modeling_llama.py), which with a sliding window is also Mistral's: pre-norm decoder
 * layers with RMSNorm, rotary attention with grouped KV heads, and a SiLU-gated MLP.
 */
import type { DeviceTensor, PositionInputs } from '../backend/backend.js';
import type { TextConfig } from '../config/text_config.js';
import * as ops from '../backend/ops.js';
import type { KVCache } from './kv_cache.js';
import { Embedding, Linear, Module, RMSNorm } from './modules.js';
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
}

/** What every layer of one forward shares: the position inputs handed to the engine once. */
interface TextForwardContext {
  inputs: PositionInputs;
  cache: KVCache | null;
  pastLength: number;
}

class LlamaAttention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;

  constructor(
    private readonly c: TextConfig,
    private readonly layerIndex: number,
  ) {
    super();
    const { hidden_size: h, head_dim: d, num_attention_heads: nh, num_key_value_heads: nkv, attention_bias: bias } = c;
    this.q_proj = new Linear(h, nh * d, bias);
    this.k_proj = new Linear(h, nkv * d, bias);
    this.v_proj = new Linear(h, nkv * d, bias);
    this.o_proj = new Linear(nh * d, h, bias);
  }

  /** x [B, S, hidden] → [B, S, hidden] */
  forward(x: DeviceTensor, ctx: TextForwardContext): DeviceTensor {
    const { head_dim: d, num_attention_heads: nh, num_key_value_heads: nkv } = this.c;
    const q = ops.rope(this.q_proj.forward(x), ctx.inputs, d); // [B, S, nh·d]
    let k = ops.rope(this.k_proj.forward(x), ctx.inputs, d); // [B, S, nkv·d]
    let v = this.v_proj.forward(x);
    const seq = x.dims[1];
    if (ctx.cache) {
      ctx.cache.write(this.layerIndex, k, v);
      k = ctx.cache.keys[this.layerIndex]; // [B, maxLength, nkv·d], first pastLength + S rows valid
      v = ctx.cache.values[this.layerIndex];
    }
    const out = ops.attention(q, k, v, {
      numHeads: nh,
      numKvHeads: nkv,
      headDim: d,
      scale: d ** -0.5,
      kvLength: ctx.pastLength + seq,
      causal: { pastLength: ctx.pastLength },
      keyMask: ctx.inputs,
      slidingWindow: this.c.sliding_window ?? undefined,
    });
    return this.o_proj.forward(out);
  }
}

class LlamaMLP extends Module {
  gate_proj: Linear;
  up_proj: Linear;
  down_proj: Linear;

  constructor(private readonly c: TextConfig) {
    super();
    const { hidden_size: h, intermediate_size: i, mlp_bias: bias } = c;
    this.gate_proj = new Linear(h, i, bias);
    this.up_proj = new Linear(h, i, bias);
    this.down_proj = new Linear(i, h, bias);
  }

  forward(x: DeviceTensor): DeviceTensor {
    const gate = ops.act(this.gate_proj.forward(x), this.c.hidden_act);
    return this.down_proj.forward(ops.mul(gate, this.up_proj.forward(x)));
  }
}

class LlamaDecoderLayer extends Module {
  self_attn: LlamaAttention;
  mlp: LlamaMLP;
  input_layernorm: RMSNorm;
  post_attention_layernorm: RMSNorm;

  constructor(c: TextConfig, index: number) {
    super();
    this.self_attn = new LlamaAttention(c, index);
    this.mlp = new LlamaMLP(c);
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

export class LlamaModel extends Module {
  embed_tokens: Embedding;
  layers: LlamaDecoderLayer[];
  norm: RMSNorm;
  readonly rotary: RotaryEmbedding;

  constructor(readonly c: TextConfig) {
    super();
    this.embed_tokens = new Embedding(c.vocab_size, c.hidden_size);
    this.layers = Array.from({ length: c.num_hidden_layers }, (_, i) => new LlamaDecoderLayer(c, i));
    this.norm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
    this.rotary = new RotaryEmbedding(c.rope_parameters, c.head_dim, c.max_position_embeddings);
  }

  /** inputs_embeds [B, S, hidden] → final-norm hidden states [B, S, hidden]; appends to the cache. */
  forward(inputsEmbeds: DeviceTensor, f: TextForwardInputs): DeviceTensor {
    let maxPosition = 0;
    for (const p of f.positions) if (p > maxPosition) maxPosition = p;
    const { invFreq, scaling } = this.rotary.forPositions(maxPosition);
    const inputs = inputsEmbeds.backend.positionInputs({ positions: f.positions, invFreq, ropeScaling: scaling, keyMask: f.keyMask });
    const full: TextForwardContext = { inputs, cache: f.cache, pastLength: f.pastLength };
    let h = inputsEmbeds;
    for (const layer of this.layers) h = layer.forward(h, full);
    inputs.release();
    f.cache?.advance(inputsEmbeds.dims[1]);
    return this.norm.forward(h);
  }
}
