/**
 * The Llama text model (modeling_llama.py), which with a sliding window is also Mistral's: separate q/k/v
 * projections and a SiLU-gated MLP of gate_proj and up_proj (layer skeleton and attention in decoder.ts).
 */
import type { DeviceTensor } from '../backend/backend.js';
import type { TextConfig } from '../config/text_config.js';
import * as ops from '../backend/ops.js';
import { attend, DecoderModel, type TextForwardContext } from './decoder.js';
import { Linear, Module } from './modules.js';

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
    const out = attend(this.q_proj.forward(x), this.k_proj.forward(x), this.v_proj.forward(x), this.c, this.layerIndex, ctx);
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

export class LlamaModel extends DecoderModel<{ self_attn: LlamaAttention; mlp: LlamaMLP }> {
  constructor(c: TextConfig) {
    super(c, (i) => ({ self_attn: new LlamaAttention(c, i), mlp: new LlamaMLP(c) }));
  }
}
