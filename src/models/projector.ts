/**
 * VipLlavaMultiModalProjector: LayerNorm over the concatenated layers → linear_1 → act → linear_2. Its linears
 * quantise only with quantizeVision, as the vision tower's do.
 */
import type { DeviceTensor } from '../backend/backend.js';
import type { VipLlavaConfig } from '../config/vipllava_config.js';
import * as ops from '../backend/ops.js';
import { LayerNorm, Linear, Module } from './modules.js';

export class VipLlavaMultiModalProjector extends Module {
  projector_layernorm: LayerNorm;
  linear_1: Linear;
  linear_2: Linear;

  constructor(private readonly config: VipLlavaConfig) {
    super();
    const inSize = config.projectorInputSize;
    const hidden = config.text_config.hidden_size;
    this.projector_layernorm = new LayerNorm(inSize, config.projector_layernorm_eps);
    this.linear_1 = new Linear(inSize, hidden, true, 'opt-in');
    this.linear_2 = new Linear(hidden, hidden, true, 'opt-in');
  }

  /** [N, P, layers·visionHidden] → [N, P, textHidden] */
  forward(x: DeviceTensor): DeviceTensor {
    const h = this.linear_1.forward(this.projector_layernorm.forward(x));
    return this.linear_2.forward(ops.act(h, this.config.projector_hidden_act));
  }
}
