/**
 * The CLIP vision tower (transformers' CLIPVisionModel, modeling_clip.py): patch embedding, CLS token and
 * position embeddings, pre_layrnorm (sic), then pre-LN encoder layers. Returns the hidden-states tuple
 * VipLlava selects from: [0] = pre_layrnorm(embeddings), [k] = output of encoder layer k-1.
 */
import type { DeviceTensor } from '../backend/backend.js';
import type { ClipVisionConfig } from '../config/clip_vision_config.js';
import * as ops from '../backend/ops.js';
import { Embedding, LayerNorm, Linear, Mlp, Module, Parameter } from './modules.js';

/** Conv2d with stride = kernel and no bias; its weight is [hidden, channels, patch, patch]. */
class PatchEmbedding extends Module {
  weight: Parameter;
  constructor(c: ClipVisionConfig) {
    super();
    // the engine applies it as a linear over the flattened patches, so it is packed as one
    this.weight = new Parameter([c.hidden_size, c.num_channels, c.patch_size, c.patch_size], { linear: true, quantize: 'opt-in' });
  }

  /** pixels [N, C, S, S] → [N, P, hidden] */
  forward(pixels: DeviceTensor): DeviceTensor {
    return ops.patchEmbed(pixels, this.weight.value);
  }
}

class ClipVisionEmbeddings extends Module {
  class_embedding: Parameter;
  patch_embedding: PatchEmbedding;
  position_embedding: Embedding;

  constructor(private readonly c: ClipVisionConfig) {
    super();
    this.class_embedding = new Parameter([c.hidden_size]);
    this.patch_embedding = new PatchEmbedding(c);
    this.position_embedding = new Embedding((c.image_size / c.patch_size) ** 2 + 1, c.hidden_size);
  }

  /** pixels [N, C, S, S] → [N, 1 + P, hidden] */
  forward(pixels: DeviceTensor): DeviceTensor {
    const [numImages] = pixels.dims;
    const hidden = this.c.hidden_size;
    const patchEmbeds = this.patch_embedding.forward(pixels); // [N, P, hidden]
    const cls = ops.expand(ops.reshape(this.class_embedding.value, [1, 1, hidden]), [numImages, 1, hidden]);
    const embeddings = ops.concat([cls, patchEmbeds], 1); // [N, 1 + P, hidden]
    return ops.add(embeddings, this.position_embedding.weight.value);
  }
}

class ClipAttention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  out_proj: Linear;

  constructor(private readonly c: ClipVisionConfig) {
    super();
    const h = c.hidden_size;
    this.q_proj = new Linear(h, h, true, 'opt-in');
    this.k_proj = new Linear(h, h, true, 'opt-in');
    this.v_proj = new Linear(h, h, true, 'opt-in');
    this.out_proj = new Linear(h, h, true, 'opt-in');
  }

  /** Full bidirectional attention over x [N, T, hidden]. */
  forward(x: DeviceTensor): DeviceTensor {
    const heads = this.c.num_attention_heads;
    const headDim = this.c.hidden_size / heads;
    const out = ops.attention(this.q_proj.forward(x), this.k_proj.forward(x), this.v_proj.forward(x), {
      numHeads: heads,
      numKvHeads: heads,
      headDim,
      scale: headDim ** -0.5,
      kvLength: x.dims[1],
    });
    return this.out_proj.forward(out);
  }
}

class ClipEncoderLayer extends Module {
  self_attn: ClipAttention;
  layer_norm1: LayerNorm;
  mlp: Mlp;
  layer_norm2: LayerNorm;

  constructor(c: ClipVisionConfig) {
    super();
    this.self_attn = new ClipAttention(c);
    this.layer_norm1 = new LayerNorm(c.hidden_size, c.layer_norm_eps);
    this.mlp = new Mlp(c.hidden_size, c.intermediate_size, c.hidden_act, 'opt-in');
    this.layer_norm2 = new LayerNorm(c.hidden_size, c.layer_norm_eps);
  }

  forward(h: DeviceTensor): DeviceTensor {
    return ops.tidy(h, () => {
      const mid = ops.add(h, this.self_attn.forward(this.layer_norm1.forward(h)));
      return ops.add(mid, this.mlp.forward(this.layer_norm2.forward(mid)));
    });
  }
}

class ClipEncoder extends Module {
  layers: ClipEncoderLayer[];
  constructor(c: ClipVisionConfig) {
    super();
    this.layers = Array.from({ length: c.num_hidden_layers }, () => new ClipEncoderLayer(c));
  }
}

export class ClipVisionModel extends Module {
  embeddings: ClipVisionEmbeddings;
  pre_layrnorm: LayerNorm;
  encoder: ClipEncoder;
  // post_layernorm exists in checkpoints but VipLlava never uses it, so it is not loaded.

  constructor(private readonly c: ClipVisionConfig) {
    super();
    this.embeddings = new ClipVisionEmbeddings(c);
    this.pre_layrnorm = new LayerNorm(c.hidden_size, c.layer_norm_eps);
    this.encoder = new ClipEncoder(c);
  }

  /**
   * hidden_states[0..upTo] for pixels [N, C, S, S] (on the engine); layers past `upTo` are not run (transformers runs them
   * all, but their outputs are never selected).
   */
  forward(pixels: DeviceTensor, upTo = this.c.num_hidden_layers): DeviceTensor[] {
    let h = this.pre_layrnorm.forward(this.embeddings.forward(pixels));
    const states = [h];
    for (const layer of this.encoder.layers.slice(0, upTo)) {
      h = layer.forward(h);
      states.push(h);
    }
    return states;
  }
}
