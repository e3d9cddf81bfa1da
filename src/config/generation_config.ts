import { Fields, isObject, readJson } from './fields.js';
import { ConfigError } from '../errors.js';

/** The generation_config.json fields greedy generation reads (issue 4 extends this). */
export interface GenerationConfig {
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
  max_new_tokens: number | null;
  max_length: number | null;
}

export const EMPTY_GENERATION_CONFIG: GenerationConfig = {
  bos_token_id: null,
  eos_token_id: null,
  pad_token_id: null,
  max_new_tokens: null,
  max_length: null,
};

export function parseGenerationConfig(json: unknown, source = 'generation_config.json'): GenerationConfig {
  if (!isObject(json)) throw new ConfigError(`${source}: expected a JSON object`);
  const f = new Fields(json, '', source);
  const optionalInt = (key: string) => (f.has(key) ? f.int(key, 0, { min: 0 }) : null);
  return {
    bos_token_id: optionalInt('bos_token_id'),
    eos_token_id: f.intOrList('eos_token_id'),
    pad_token_id: optionalInt('pad_token_id'),
    max_new_tokens: f.has('max_new_tokens') ? f.int('max_new_tokens', 0, { min: 1 }) : null,
    max_length: f.has('max_length') ? f.int('max_length', 0, { min: 1 }) : null,
  };
}

export async function readGenerationConfig(file: string | null): Promise<GenerationConfig> {
  return file ? parseGenerationConfig(await readJson(file), file) : { ...EMPTY_GENERATION_CONFIG };
}
