/**
 * transformers' ForCausalLMLoss: logits at position t are scored against labels[t + 1]; the last position and
 * labels of -100 are ignored; the loss is the mean over the rest (NaN when nothing is scored, as in torch).
 */
import { InputError } from '../errors.js';

export const IGNORE_INDEX = -100;

export function causalLmLoss(logits: Float32Array, labels: Int32Array, batch: number, seq: number, vocab: number): number {
  let total = 0;
  let count = 0;
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t + 1 < seq; t++) {
      const target = labels[b * seq + t + 1];
      if (target === IGNORE_INDEX) continue;
      if (target < 0 || target >= vocab) throw new InputError(`labels[${b}][${t + 1}] is ${target}, outside the vocabulary (size ${vocab})`);
      const off = (b * seq + t) * vocab;
      let max = -Infinity;
      for (let v = 0; v < vocab; v++) if (logits[off + v] > max) max = logits[off + v];
      let sum = 0;
      for (let v = 0; v < vocab; v++) sum += Math.exp(logits[off + v] - max);
      total += Math.log(sum) + max - logits[off + target];
      count++;
    }
  }
  return total / count;
}
