/**
 * The Phi-3 text model (modeling_phi3.py): Llama's layer with fused projections, as its checkpoints store them.
 * `self_attn.qkv_proj` holds the q, k and v rows in that order (grouped KV heads allowed); `mlp.gate_up_proj`
 * holds the gate rows, then the up rows, and the MLP is down_proj(act(gate) · up). No biases; resid and embd
 * dropout do nothing at inference. Layer skeleton, partial rotary and sliding window in decoder.ts.
 */
import type { DeviceTensor } from '../backend/backend.js';
import type { TextConfig } from '../config/text_config.js';
import * as ops from '../backend/ops.js';
import { attend, DecoderModel, type TextForwardContext } from './decoder.js';
import { Linear, Module } from './modules.js';

class Phi3Attention extends Module {
  qkv_proj: Linear;
  o_proj: Linear;

  constructor(
    private readonly c: TextConfig,
    private readonly layerIndex: number,
  ) {
    super();
    const { hidden_size: h, head_dim: d, num_attention_heads: nh, num_key_value_heads: nkv } = c;
    this.qkv_proj = new Linear(h, (nh + 2 * nkv) * d, false);
    this.o_proj = new Linear(nh * d, h, false);
  }

  /** x [B, S, hidden] → [B, S, hidden] */
  forward(x: DeviceTensor, ctx: TextForwardContext): DeviceTensor {
    const { head_dim: d, num_attention_heads: nh, num_key_value_heads: nkv } = this.c;
    const qkv = this.qkv_proj.forward(x); // [B, S, (nh + 2·nkv)·d]
    const q = ops.narrow(qkv, 2, 0, nh * d); // [B, S, nh·d]
    const k = ops.narrow(qkv, 2, nh * d, nkv * d); // [B, S, nkv·d]
    const v = ops.narrow(qkv, 2, (nh + nkv) * d, nkv * d); // [B, S, nkv·d]
    return this.o_proj.forward(attend(q, k, v, this.c, this.layerIndex, ctx));
  }
}

class Phi3MLP extends Module {
  gate_up_proj: Linear;
  down_proj: Linear;

  constructor(private readonly c: TextConfig) {
    super();
    const { hidden_size: h, intermediate_size: i } = c;
    this.gate_up_proj = new Linear(h, 2 * i, false);
    this.down_proj = new Linear(i, h, false);
  }

  forward(x: DeviceTensor): DeviceTensor {
    const i = this.c.intermediate_size;
    const gateUp = this.gate_up_proj.forward(x); // [B, S, 2·intermediate]
    const gate = ops.narrow(gateUp, 2, 0, i); // [B, S, intermediate]
    const up = ops.narrow(gateUp, 2, i, i);
    return this.down_proj.forward(ops.mul(ops.act(gate, this.c.hidden_act), up));
  }
}

export class Phi3Model extends DecoderModel<{ self_attn: Phi3Attention; mlp: Phi3MLP }> {
  constructor(c: TextConfig) {
    super(c, (i) => ({ self_attn: new Phi3Attention(c, i), mlp: new Phi3MLP(c) }));
  }
}
