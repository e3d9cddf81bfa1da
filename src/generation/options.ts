/**
 * Generation settings: the caller's options over the checkpoint's generation_config.json over transformers'
 * defaults, checked once, in the names transformers uses (camelCase here).
 */
import type { GenerationConfig } from '../config/generation_config.js';
import type { TextConfig } from '../config/text_config.js';
import { InputError } from '../errors.js';
import type { VipLlavaTokenizer } from '../processor/tokenizer.js';
import type { IntInput, Tensor } from '../tensor/tensor.js';
import * as lp from './logits_process.js';

export interface GenerationOptions {
  /** New tokens to generate at most (default generation_config.json's, else 20). */
  maxNewTokens?: number;
  /** Total length, prompt included (maxNewTokens wins when both are given). */
  maxLength?: number;
  minLength?: number;
  minNewTokens?: number;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  typicalP?: number;
  epsilonCutoff?: number;
  etaCutoff?: number;
  repetitionPenalty?: number;
  noRepeatNgramSize?: number;
  badWordsIds?: number[][];
  suppressTokens?: number[];
  beginSuppressTokens?: number[];
  /** [token ids, bias]: the bias is added to the last id's score when the ids before it end the sequence. */
  sequenceBias?: Array<[number[], number]>;
  numBeams?: number;
  lengthPenalty?: number;
  earlyStopping?: boolean | 'never';
  numReturnSequences?: number;
  eosTokenId?: number | number[];
  padTokenId?: number;
  /** Stop once any of these strings ends within the newest token (needs `tokenizer`). */
  stopStrings?: string[];
  /** Seconds; generation stops after the token that crosses it. */
  maxTime?: number;
  /** Seed for sampling (default: a random one). */
  seed?: number;
  /** Cancels generation; the tokens so far are kept. */
  signal?: AbortSignal;
  /** For stop strings and streamed text. */
  tokenizer?: VipLlavaTokenizer;
  /** Streamed events carry the log-probability of each chosen token under the processed distribution. */
  outputLogprobs?: boolean;
  /** With outputLogprobs, also the this many most likely tokens at each step (0–20). */
  topLogprobs?: number;
  /**
   * OpenAI's penalties, on the generated tokens only: each token's logit is lowered by presencePenalty once it has
   * appeared and by frequencyPenalty times its count (−2 to 2; not in transformers).
   */
  presencePenalty?: number;
  frequencyPenalty?: number;
}

/** What generate() and generateStream() take: the prompt (and images) with the generation options. */
export interface GenerateOptions extends GenerationOptions {
  inputIds: IntInput;
  /** 0 marks left padding. Inferred from the pad token when absent, as transformers does. */
  attentionMask?: IntInput;
  pixelValues?: Tensor;
}

export interface ResolvedGeneration {
  maxLength: number;
  doSample: boolean;
  numBeams: number;
  numReturnSequences: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  eos: number[];
  pad: number;
  stopStrings: string[];
  maxTime: number | null;
  seed: number | null;
  /** Applied to every step's scores (log-probabilities in beam search), in transformers' order. */
  processors: lp.LogitsProcessor[];
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new InputError(message);
}

const integerAtLeast = (min: number) => (v: number) => Number.isInteger(v) && v >= min;
/** What each numeric option must be, whether it comes from the caller or from generation_config.json. */
const RULES = {
  maxNewTokens: [integerAtLeast(1), 'a positive integer'],
  maxLength: [integerAtLeast(1), 'a positive integer'],
  minNewTokens: [integerAtLeast(0), 'an integer >= 0'],
  minLength: [integerAtLeast(0), 'an integer >= 0'],
  numBeams: [integerAtLeast(1), 'a positive integer'],
  numReturnSequences: [integerAtLeast(1), 'a positive integer'],
  repetitionPenalty: [(v: number) => v > 0, '> 0'],
  noRepeatNgramSize: [integerAtLeast(0), 'an integer >= 0'],
  maxTime: [(v: number) => v > 0, '> 0 seconds'],
  topK: [integerAtLeast(0), 'an integer >= 0'],
  topP: [(v: number) => v >= 0 && v <= 1, 'in [0, 1]'],
  minP: [(v: number) => v >= 0 && v <= 1, 'in [0, 1]'],
  typicalP: [(v: number) => v > 0 && v <= 1, 'in (0, 1]'],
  seed: [(v: number) => Number.isInteger(v), 'an integer'],
  topLogprobs: [(v: number) => Number.isInteger(v) && v >= 0 && v <= 20, 'an integer from 0 to 20'],
  presencePenalty: [(v: number) => v >= -2 && v <= 2, 'in [-2, 2]'],
  frequencyPenalty: [(v: number) => v >= -2 && v <= 2, 'in [-2, 2]'],
} satisfies Partial<Record<keyof GenerationOptions, [(v: number) => boolean, string]>>;

function rule(name: keyof typeof RULES, value: number): void {
  const [ok, what] = RULES[name];
  check(typeof value === 'number' && ok(value), `${name} must be ${what}, got ${value}`);
}

/**
 * The options checked on their own, before any model is loaded: each value's type and range, and the rules
 * between them that need no checkpoint. The rest (lengths against the model, the checkpoint's own settings) is
 * checked when generation starts.
 */
export function checkGenerationOptions(o: GenerationOptions): void {
  for (const name of Object.keys(RULES) as Array<keyof typeof RULES>) if (o[name] !== undefined) rule(name, o[name]);
  if (o.doSample && o.temperature !== undefined) checkTemperature(o.temperature);
  if (o.stopStrings !== undefined) checkStopStrings(o.stopStrings);
  if (o.numBeams !== undefined && o.numReturnSequences !== undefined && o.numBeams > 1) checkReturnSequences(o.numReturnSequences, o.numBeams);
}

const checkTemperature = (t: number) => check(t > 0, `temperature must be > 0 when sampling, got ${t} (for greedy decoding leave doSample off)`);
const checkStopStrings = (s: unknown[]) => check(Array.isArray(s) && s.every((x) => typeof x === 'string' && x.length > 0), 'stopStrings must be non-empty strings');
const checkReturnSequences = (n: number, beams: number) => check(n <= beams, `numReturnSequences (${n}) must be at most numBeams (${beams})`);

/** No checkpoint needs more positions than this; beyond it a cache could not be allocated anyway. */
export const MAX_POSITIONS = 1 << 20;

/**
 * Prompt plus new tokens must fit the model: max_position_embeddings, except with dynamic-NTK RoPE, which exists
 * to run past it (transformers rescales its frequencies there); and never more than MAX_POSITIONS.
 */
function checkPositions(promptLength: number, maxLength: number, text: TextConfig): void {
  const dynamic = text.rope_parameters.rope_type === 'dynamic';
  const limit = dynamic ? MAX_POSITIONS : Math.min(text.max_position_embeddings, MAX_POSITIONS);
  const what = dynamic ? `${limit} positions` : `${limit} positions (max_position_embeddings)`;
  check(promptLength < limit, `the prompt has ${promptLength} tokens, but the model takes at most ${what}, leaving no room for new tokens; shorten the prompt`);
  check(maxLength <= limit, `the prompt (${promptLength} tokens) and the new tokens (up to ${maxLength - promptLength}) need ${maxLength} positions, but the model takes at most ${what}; lower maxNewTokens to ${limit - promptLength} or less`);
}

/** Settings for a prompt of `promptLength` tokens. */
export function resolveGeneration(o: GenerationOptions, g: GenerationConfig, text: TextConfig, modelPad: number | null, promptLength: number): ResolvedGeneration {
  checkGenerationOptions(o);
  const pick = <T>(option: T | undefined, fromFile: T): T => (option !== undefined ? option : fromFile);
  const eosRaw = o.eosTokenId ?? g.eos_token_id ?? text.eos_token_id;
  const eos = eosRaw === null ? [] : Array.isArray(eosRaw) ? eosRaw : [eosRaw];
  // transformers reads config.json's pad_token_id only when the checkpoint has no generation_config.json
  const pad = o.padTokenId ?? g.pad_token_id ?? (g.from_file ? null : modelPad) ?? eos[0] ?? 0;

  const maxNew = o.maxNewTokens ?? (o.maxLength === undefined ? g.max_new_tokens ?? undefined : undefined);
  let maxLength: number;
  if (maxNew !== undefined) {
    rule('maxNewTokens', maxNew);
    maxLength = promptLength + maxNew;
  } else if (o.maxLength !== undefined || g.max_length !== null) {
    maxLength = (o.maxLength ?? g.max_length)!;
    check(Number.isInteger(maxLength) && maxLength > promptLength, `maxLength (${maxLength}) must exceed the prompt length (${promptLength})`);
  } else {
    maxLength = Math.min(promptLength + 20, Math.max(text.max_position_embeddings, promptLength + 1)); // 20 new tokens by default
  }
  checkPositions(promptLength, maxLength, text);

  const doSample = pick(o.doSample, g.do_sample);
  const numBeams = pick(o.numBeams, g.num_beams);
  const numReturnSequences = pick(o.numReturnSequences, g.num_return_sequences);
  rule('numBeams', numBeams);
  rule('numReturnSequences', numReturnSequences);
  if (numBeams > 1) checkReturnSequences(numReturnSequences, numBeams);
  else if (!doSample) check(numReturnSequences === 1, 'greedy decoding returns one sequence per prompt; use doSample or numBeams for numReturnSequences > 1');

  const stopStrings = o.stopStrings ?? g.stop_strings ?? [];
  checkStopStrings(stopStrings);
  if (stopStrings.length > 0) check(o.tokenizer !== undefined, 'stopStrings need the tokenizer: pass tokenizer (e.g. processor.tokenizer)');
  const maxTime = o.maxTime ?? g.max_time;
  if (maxTime !== null) rule('maxTime', maxTime);

  // Processors, in _get_logits_processor's order.
  const processors: lp.LogitsProcessor[] = [];
  const sequenceBias = o.sequenceBias ?? g.sequence_bias;
  if (sequenceBias?.length) processors.push(lp.sequenceBias(sequenceBias));
  const repetition = pick(o.repetitionPenalty, g.repetition_penalty);
  rule('repetitionPenalty', repetition);
  if (repetition !== 1) processors.push(lp.repetitionPenalty(repetition));
  if (o.presencePenalty || o.frequencyPenalty) processors.push(lp.presenceFrequencyPenalty(o.presencePenalty ?? 0, o.frequencyPenalty ?? 0, promptLength));
  const ngram = pick(o.noRepeatNgramSize, g.no_repeat_ngram_size);
  rule('noRepeatNgramSize', ngram);
  if (ngram > 0) processors.push(lp.noRepeatNgram(ngram));
  const badWords = o.badWordsIds ?? g.bad_words_ids;
  if (badWords?.length) processors.push(lp.noBadWords(badWords, eos));
  const minNew = o.minNewTokens ?? g.min_new_tokens;
  const minLength = minNew !== null && minNew !== undefined ? promptLength + minNew : pick(o.minLength, g.min_length);
  if (eos.length > 0 && minLength > 0) processors.push(lp.minLength(minLength, eos));
  const suppress = o.suppressTokens ?? g.suppress_tokens;
  if (suppress?.length) processors.push(lp.suppressTokens(suppress));
  const beginSuppress = o.beginSuppressTokens ?? g.begin_suppress_tokens;
  if (beginSuppress?.length) processors.push(lp.suppressTokensAtBegin(beginSuppress, promptLength));
  if (doSample) {
    const minKeep = numBeams > 1 ? eos.length + 1 : 1;
    const temperature = pick(o.temperature, g.temperature);
    checkTemperature(temperature);
    if (temperature !== 1) processors.push(lp.temperature(temperature));
    const topK = pick(o.topK, g.top_k);
    rule('topK', topK);
    if (topK !== 0) processors.push(lp.topK(topK, minKeep));
    const topP = pick(o.topP, g.top_p);
    rule('topP', topP);
    if (topP < 1) processors.push(lp.topP(topP, minKeep));
    const minP = o.minP ?? g.min_p;
    if (minP !== null && minP !== undefined) {
      rule('minP', minP);
      processors.push(lp.minP(minP, minKeep));
    }
    const typical = pick(o.typicalP, g.typical_p);
    rule('typicalP', typical);
    if (typical < 1) processors.push(lp.typicalP(typical, minKeep));
    const eps = pick(o.epsilonCutoff, g.epsilon_cutoff);
    if (eps > 0 && eps < 1) processors.push(lp.epsilonCutoff(eps, minKeep));
    const eta = pick(o.etaCutoff, g.eta_cutoff);
    if (eta > 0 && eta < 1) processors.push(lp.etaCutoff(eta, minKeep));
  }
  return {
    maxLength,
    doSample,
    numBeams,
    numReturnSequences,
    lengthPenalty: pick(o.lengthPenalty, g.length_penalty),
    earlyStopping: pick(o.earlyStopping, g.early_stopping),
    eos,
    pad,
    stopStrings,
    maxTime,
    seed: o.seed ?? null,
    processors,
  };
}
