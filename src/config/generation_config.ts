import { Fields, isObject, show } from './fields.js';
import { ConfigError } from '../errors.js';

/**
 * generation_config.json, with transformers' GenerationConfig defaults for what it leaves out. Fields a file
 * cannot change the meaning of (output flags, caching) are not read.
 */
export interface GenerationConfig {
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
  max_new_tokens: number | null;
  /** Total length, prompt included; null means "20 new tokens", transformers' default. */
  max_length: number | null;
  min_length: number;
  min_new_tokens: number | null;
  do_sample: boolean;
  num_beams: number;
  num_return_sequences: number;
  length_penalty: number;
  early_stopping: boolean | 'never';
  temperature: number;
  top_k: number;
  top_p: number;
  min_p: number | null;
  typical_p: number;
  epsilon_cutoff: number;
  eta_cutoff: number;
  repetition_penalty: number;
  no_repeat_ngram_size: number;
  bad_words_ids: number[][] | null;
  suppress_tokens: number[] | null;
  begin_suppress_tokens: number[] | null;
  sequence_bias: Array<[number[], number]> | null;
  max_time: number | null;
  stop_strings: string[] | null;
  /**
   * Whether these settings came from a generation_config.json. Without one, transformers builds them from
   * config.json, whose pad_token_id then pads finished rows; with one, a pad it leaves out falls to the first EOS.
   */
  from_file: boolean;
}

export const DEFAULT_GENERATION_CONFIG: GenerationConfig = {
  bos_token_id: null,
  eos_token_id: null,
  pad_token_id: null,
  max_new_tokens: null,
  max_length: null,
  min_length: 0,
  min_new_tokens: null,
  do_sample: false,
  num_beams: 1,
  num_return_sequences: 1,
  length_penalty: 1,
  early_stopping: false,
  temperature: 1,
  top_k: 50,
  top_p: 1,
  min_p: null,
  typical_p: 1,
  epsilon_cutoff: 0,
  eta_cutoff: 0,
  repetition_penalty: 1,
  no_repeat_ngram_size: 0,
  bad_words_ids: null,
  suppress_tokens: null,
  begin_suppress_tokens: null,
  sequence_bias: null,
  max_time: null,
  stop_strings: null,
  from_file: false,
};

function intList(f: Fields, key: string): number[] | null {
  const v = f.obj[key];
  if (v === undefined || v === null) return null;
  if (Array.isArray(v) && v.every((x) => Number.isInteger(x))) return v as number[];
  f.fail(key, `must be a list of integers, got ${show(v)}`);
}

export function parseGenerationConfig(json: unknown, source = 'generation_config.json'): GenerationConfig {
  if (!isObject(json)) throw new ConfigError(`${source}: expected a JSON object`);
  const f = new Fields(json, '', source);
  const d = DEFAULT_GENERATION_CONFIG;
  const optionalInt = (key: string, min = 0) => (f.has(key) ? f.int(key, 0, { min }) : null);
  const bad = f.obj.bad_words_ids;
  if (bad != null && !(Array.isArray(bad) && bad.every((w) => Array.isArray(w) && w.every((x) => Number.isInteger(x))))) {
    f.fail('bad_words_ids', `must be a list of lists of integers, got ${show(bad)}`);
  }
  const bias = f.obj.sequence_bias;
  if (bias != null && !(Array.isArray(bias) && bias.every((e) => Array.isArray(e) && Array.isArray(e[0]) && typeof e[1] === 'number'))) {
    f.fail('sequence_bias', `must be a list of [token ids, bias] pairs, got ${show(bias)}`);
  }
  const stops = f.obj.stop_strings;
  if (stops != null && !(typeof stops === 'string' || (Array.isArray(stops) && stops.every((s) => typeof s === 'string')))) {
    f.fail('stop_strings', `must be a string or a list of strings, got ${show(stops)}`);
  }
  const early = f.obj.early_stopping;
  if (early != null && early !== 'never' && typeof early !== 'boolean') f.fail('early_stopping', `must be true, false or "never", got ${show(early)}`);
  return {
    bos_token_id: optionalInt('bos_token_id'),
    eos_token_id: f.intOrList('eos_token_id'),
    pad_token_id: optionalInt('pad_token_id'),
    max_new_tokens: optionalInt('max_new_tokens', 1),
    max_length: optionalInt('max_length', 1),
    min_length: f.int('min_length', d.min_length, { min: 0 }),
    min_new_tokens: optionalInt('min_new_tokens'),
    do_sample: f.bool('do_sample', d.do_sample),
    num_beams: f.int('num_beams', d.num_beams, { min: 1 }),
    num_return_sequences: f.int('num_return_sequences', d.num_return_sequences, { min: 1 }),
    length_penalty: f.num('length_penalty', d.length_penalty),
    early_stopping: (early ?? d.early_stopping) as boolean | 'never',
    temperature: f.num('temperature', d.temperature),
    top_k: f.int('top_k', d.top_k, { min: 0 }),
    top_p: f.num('top_p', d.top_p),
    min_p: f.has('min_p') ? f.num('min_p', 0) : null,
    typical_p: f.num('typical_p', d.typical_p),
    epsilon_cutoff: f.num('epsilon_cutoff', d.epsilon_cutoff),
    eta_cutoff: f.num('eta_cutoff', d.eta_cutoff),
    repetition_penalty: f.num('repetition_penalty', d.repetition_penalty),
    no_repeat_ngram_size: f.int('no_repeat_ngram_size', d.no_repeat_ngram_size, { min: 0 }),
    bad_words_ids: (bad as number[][] | null) ?? null,
    suppress_tokens: intList(f, 'suppress_tokens'),
    begin_suppress_tokens: intList(f, 'begin_suppress_tokens'),
    sequence_bias: (bias as Array<[number[], number]> | null) ?? null,
    max_time: f.has('max_time') ? f.num('max_time', 0, { positive: true }) : null,
    stop_strings: stops == null ? null : typeof stops === 'string' ? [stops] : (stops as string[]),
    from_file: true,
  };
}
