/** Generation flags shared by `generate` and `chat`, turned into GenerationOptions. */
import type { GenerationOptions } from '../index.node.js';

/** The command line is wrong (an unknown command or flag, a bad value, a missing argument): exit 2. */
export class UsageError extends Error {}

/** Ctrl-C stopped the command; what it had produced was kept: exit 130, as a shell reports SIGINT. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

export const GENERATION_FLAGS = {
  'max-new-tokens': { type: 'string' },
  'min-new-tokens': { type: 'string' },
  'do-sample': { type: 'boolean' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'typical-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  'no-repeat-ngram-size': { type: 'string' },
  'num-beams': { type: 'string' },
  seed: { type: 'string' },
  stop: { type: 'string', multiple: true },
  'max-time': { type: 'string' },
} as const;

export const GENERATION_HELP = `generation options:
  --max-new-tokens N        default 64
  --min-new-tokens N
  --do-sample               sample instead of greedy decoding
  --temperature T  --top-k K  --top-p P  --min-p P  --typical-p P
  --repetition-penalty R  --no-repeat-ngram-size N
  --num-beams N             beam search (the answer is printed at the end)
  --seed N                  makes sampling reproducible
  --stop TEXT               stop after TEXT (repeatable; default "###" with the hub template)
  --max-time SECONDS`;

type Values = Partial<Record<keyof typeof GENERATION_FLAGS, string | boolean | string[]>>;

function number(values: Values, flag: keyof typeof GENERATION_FLAGS, integer: boolean): number | undefined {
  const raw = values[flag];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new UsageError(`--${flag} must be ${integer ? 'an integer' : 'a number'}, got "${raw}"`);
  return n;
}

/** The flags as options; `hubTemplate` adds the default "###" stop string. */
export function generationOptions(values: Values, hubTemplate: boolean): GenerationOptions {
  const o: GenerationOptions = {
    maxNewTokens: number(values, 'max-new-tokens', true) ?? 64,
    minNewTokens: number(values, 'min-new-tokens', true),
    doSample: values['do-sample'] === true ? true : undefined,
    temperature: number(values, 'temperature', false),
    topK: number(values, 'top-k', true),
    topP: number(values, 'top-p', false),
    minP: number(values, 'min-p', false),
    typicalP: number(values, 'typical-p', false),
    repetitionPenalty: number(values, 'repetition-penalty', false),
    noRepeatNgramSize: number(values, 'no-repeat-ngram-size', true),
    numBeams: number(values, 'num-beams', true),
    seed: number(values, 'seed', true),
    maxTime: number(values, 'max-time', false),
    stopStrings: (values.stop as string[] | undefined) ?? (hubTemplate ? ['###'] : undefined),
  };
  for (const key of Object.keys(o) as Array<keyof GenerationOptions>) if (o[key] === undefined) delete o[key];
  return o;
}
