/**
 * Building blocks. Module fields are named after checkpoint keys, so a parameter's path in the module tree
 * (`model.language_model.layers.0.self_attn.q_proj.weight`) is its canonical checkpoint key and loading is a
 * lookup.
 */
import type { DeviceTensor } from '../backend/backend.js';
import * as ops from '../backend/ops.js';
import { VipLlavaError } from '../errors.js';
import type { Activation } from '../vocabulary.js';

/**
 * Whether 8- and 4-bit loads quantise a linear weight: 'always' (the language model), 'opt-in' (the vision
 * tower and projector, with quantizeVision), 'never' (everything that is not a linear weight).
 */
export type Quantize = 'always' | 'opt-in' | 'never';

/** A weight slot: the shape the config implies, and the loaded tensor. */
export class Parameter {
  private loaded: DeviceTensor | null = null;
  /** The weight of a linear layer ([out, ...in]), which engines may repack and quantise. */
  readonly linear: boolean;
  readonly quantize: Quantize;

  constructor(
    readonly shape: readonly number[],
    { linear = false, quantize = linear ? 'always' : 'never' }: { linear?: boolean; quantize?: Quantize } = {},
  ) {
    this.linear = linear;
    this.quantize = quantize;
  }

  get value(): DeviceTensor {
    if (!this.loaded) throw new VipLlavaError('parameter used before the checkpoint was loaded');
    return this.loaded;
  }

  set value(t: DeviceTensor) {
    this.loaded = t;
  }

  get isLoaded(): boolean {
    return this.loaded !== null;
  }
}

export abstract class Module {}

/** Every parameter under `root`, keyed by its dotted path (array items by index). */
export function namedParameters(root: Module, prefix = ''): Map<string, Parameter> {
  const out = new Map<string, Parameter>();
  const visit = (value: unknown, path: string) => {
    if (value instanceof Parameter) out.set(path, value);
    else if (value instanceof Module) {
      for (const [key, child] of Object.entries(value)) visit(child, path ? `${path}.${key}` : key);
    } else if (Array.isArray(value)) value.forEach((child, i) => visit(child, `${path}.${i}`));
  };
  visit(root, prefix);
  return out;
}

export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | null;
  constructor(inFeatures: number, outFeatures: number, bias: boolean, quantize: Quantize = 'always') {
    super();
    this.weight = new Parameter([outFeatures, inFeatures], { linear: true, quantize });
    this.bias = bias ? new Parameter([outFeatures]) : null;
  }

  forward(x: DeviceTensor): DeviceTensor {
    return ops.linear(x, this.weight.value, this.bias?.value);
  }
}

export class LayerNorm extends Module {
  weight: Parameter;
  bias: Parameter;
  constructor(
    size: number,
    private readonly eps: number,
  ) {
    super();
    this.weight = new Parameter([size]);
    this.bias = new Parameter([size]);
  }

  forward(x: DeviceTensor): DeviceTensor {
    return ops.layerNorm(x, this.weight.value, this.bias.value, this.eps);
  }
}

export class RMSNorm extends Module {
  weight: Parameter;
  constructor(
    size: number,
    private readonly eps: number,
  ) {
    super();
    this.weight = new Parameter([size]);
  }

  forward(x: DeviceTensor): DeviceTensor {
    return ops.rmsNorm(x, this.weight.value, this.eps);
  }
}

export class Embedding extends Module {
  weight: Parameter;
  constructor(count: number, size: number) {
    super();
    this.weight = new Parameter([count, size]);
  }

  forward(ids: Int32Array): DeviceTensor {
    return ops.embedding(this.weight.value, ids);
  }
}

/** Two linears around an activation (CLIP's fc1/fc2). */
export class Mlp extends Module {
  fc1: Linear;
  fc2: Linear;
  constructor(
    size: number,
    intermediate: number,
    private readonly act: Activation,
    quantize: Quantize = 'always',
  ) {
    super();
    this.fc1 = new Linear(size, intermediate, true, quantize);
    this.fc2 = new Linear(intermediate, size, true, quantize);
  }

  forward(x: DeviceTensor): DeviceTensor {
    return this.fc2.forward(ops.act(this.fc1.forward(x), this.act));
  }
}
