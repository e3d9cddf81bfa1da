/**
 * The `dtype` load option resolved, once per parameter, into how the engine holds and multiplies it. The
 * model marks which parameters are linear weights and which of those quantise (modules.ts, `Parameter`);
 * nothing here looks at names.
 */
import type { FloatDtype, WeightDtype, WeightFormat } from '../vocabulary.js';
import type { Parameter } from '../models/modules.js';

export function weightFormat(dtype: WeightDtype, stored: FloatDtype, param: Pick<Parameter, 'linear' | 'quantize'>, quantizeVision: boolean): WeightFormat {
  const linear = param.linear;
  switch (dtype) {
    case 'auto':
      return { storage: stored, compute: 'float32', linear };
    case 'float32':
    case 'float16':
      return { storage: dtype, compute: 'float32', linear };
    case 'bfloat16':
      return { storage: 'bfloat16', compute: linear ? 'bfloat16' : 'float32', linear };
    case 'q8_0':
    case 'q4_0': {
      const quantized = linear && (param.quantize === 'always' || (param.quantize === 'opt-in' && quantizeVision));
      return quantized ? { storage: dtype, compute: 'int8', linear } : { storage: stored, compute: 'float32', linear };
    }
  }
}

/** Whether a load dtype makes formats worth caching once made (bf16 panels, quantised blocks). */
export const repacks = (dtype: WeightDtype) => dtype === 'bfloat16' || dtype === 'q8_0' || dtype === 'q4_0';
