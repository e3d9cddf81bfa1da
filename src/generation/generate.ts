/**
 * Greedy generation as transformers' generate() runs it for this model (reference §10.1): position ids from
 * the attention mask, image features computed once before prefill, prefill keeping only the last logits,
 * then one token per step through the KV cache; finished rows are filled with the pad id.
 */
import { InputError } from '../errors.js';
import * as ops from '../tensor/ops.js';
import { readIntMatrix, Tensor, type IntInput } from '../tensor/tensor.js';
import type { VipLlavaForConditionalGeneration } from '../models/vipllava.js';
import { readMask } from '../models/vipllava.js';

export interface GenerateOptions {
  inputIds: IntInput;
  /** 0 marks left padding. Inferred from `padTokenId` when absent, as transformers does. */
  attentionMask?: IntInput;
  pixelValues?: Tensor;
  /** Default: generation_config.json's max_new_tokens, else 20. */
  maxNewTokens?: number;
  /** Default: generation_config.json's, else the text config's (2 for Llama). */
  eosTokenId?: number | number[];
  /** Default: generation_config.json's, else config.json's, else the first EOS id. */
  padTokenId?: number;
}

function argmax(logits: Float32Array, offset: number, vocab: number): number {
  let best = 0;
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) {
    if (logits[offset + v] > max) {
      max = logits[offset + v];
      best = v; // strict > keeps the lowest id on ties, like torch.argmax
    }
  }
  return best;
}

export async function generate(model: VipLlavaForConditionalGeneration, o: GenerateOptions): Promise<Tensor<'int64'>> {
  const gen = model.generationConfig;
  const text = model.config.text_config;
  const { data: prompt, rows: batch, cols: promptLen } = readIntMatrix(o.inputIds, 'inputIds');
  if (promptLen === 0) throw new InputError('inputIds is empty');
  const eosRaw = o.eosTokenId ?? gen.eos_token_id ?? text.eos_token_id;
  const eos = eosRaw === null ? [] : Array.isArray(eosRaw) ? eosRaw : [eosRaw];
  const pad = o.padTokenId ?? gen.pad_token_id ?? model.config.pad_token_id ?? eos[0];
  const maxNew = o.maxNewTokens ?? gen.max_new_tokens ?? (gen.max_length !== null ? gen.max_length - promptLen : 20);
  if (!Number.isInteger(maxNew) || maxNew < 1) throw new InputError(`maxNewTokens must be a positive integer, got ${maxNew}`);

  // The mask over prompt + generated tokens; inferred from padding when not given.
  const total = promptLen + maxNew;
  const mask = new Uint8Array(batch * total);
  const given = o.attentionMask !== undefined ? readMask(o.attentionMask, batch, promptLen) : undefined;
  const inferFromPad = o.attentionMask === undefined && pad !== undefined && !eos.includes(pad) && prompt.includes(pad);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < promptLen; t++) {
      const i = b * promptLen + t;
      mask[b * total + t] = given ? given[i] : inferFromPad ? Number(prompt[i] !== pad) : 1;
    }
  }
  const maskView = (len: number): Uint8Array | undefined => {
    const m = new Uint8Array(batch * len);
    let masked = false;
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < len; t++) {
        m[b * len + t] = mask[b * total + t];
        if (!m[b * len + t]) masked = true;
      }
    }
    return masked ? m : undefined;
  };

  // Positions: cumsum(mask) - 1, with padding at 0; each step continues from the row's last position.
  const nextPosition = new Int32Array(batch);
  const positions = new Int32Array(batch * promptLen);
  for (let b = 0; b < batch; b++) {
    let count = 0;
    for (let t = 0; t < promptLen; t++) {
      if (mask[b * total + t]) count++;
      positions[b * promptLen + t] = mask[b * total + t] ? count - 1 : 0;
    }
    nextPosition[b] = Math.max(count - 1, 0) + 1;
  }

  const imageFeatures = o.pixelValues ? model.imageFeatures(o.pixelValues) : null;
  const cache = model.createCache(batch, total);
  const vocab = text.vocab_size;
  const sequences: number[][] = Array.from({ length: batch }, (_, b) => Array.from(prompt.subarray(b * promptLen, (b + 1) * promptLen)));
  const unfinished = new Array<boolean>(batch).fill(true);

  let logits = await ops.read(model.step({ ids: prompt, batch, seq: promptLen, positions, keyMask: maskView(promptLen), cache, imageFeatures, logitsToKeep: 1 }));
  for (let step = 0; step < maxNew; step++) {
    const next = new Int32Array(batch);
    for (let b = 0; b < batch; b++) {
      next[b] = unfinished[b] ? argmax(logits, b * vocab, vocab) : pad ?? 0;
      sequences[b].push(next[b]);
      if (eos.includes(next[b])) unfinished[b] = false;
      mask[b * total + promptLen + step] = 1;
    }
    if (!unfinished.includes(true) || step === maxNew - 1) break;
    const stepPositions = Int32Array.from(nextPosition);
    nextPosition.forEach((p, b) => (nextPosition[b] = p + 1));
    const len = promptLen + step + 1;
    logits = await ops.read(model.step({ ids: next, batch, seq: 1, positions: stepPositions, keyMask: maskView(len), cache, logitsToKeep: 1 }));
  }
  const outLen = sequences[0].length;
  const data = new BigInt64Array(batch * outLen);
  sequences.forEach((row, b) => row.forEach((id, t) => (data[b * outLen + t] = BigInt(id))));
  return new Tensor('int64', data, [batch, outLen]);
}
