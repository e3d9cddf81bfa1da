import { readJsonFixture } from './fixtures.js';

export interface GenerationGolden {
  /** What transformers padded finished rows with (absent: 32001, <pad> of tiny-llama and tiny-mistral). */
  pad_token_id?: number;
  prompts: string[];
  images: string[];
  batch_texts: string[];
  single_input_ids: number[][];
  batch_input_ids: number[][];
  cases: Record<string, { inputs: 'single' | 'batch'; kwargs: Record<string, unknown>; output: number[][] }>;
}

export const generationGoldens = (name: string) => readJsonFixture<GenerationGolden>('goldens', 'generation', `${name}.json`);

export interface WarperGolden {
  history: number[][];
  vectors: Record<string, Array<number | string>>;
  results: Record<string, Record<string, Array<Array<number | string>>>>;
}
export const warperGoldens = () => readJsonFixture<WarperGolden>('goldens', 'generation', 'warpers.json');

/** JSON's "-inf"/"inf" strings back to numbers. */
export const num = (v: number | string): number => (v === '-inf' ? -Infinity : v === 'inf' ? Infinity : (v as number));

/** transformers' snake_case generate() kwargs as our camelCase options. */
export function camelOptions(kwargs: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(kwargs).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));
}
