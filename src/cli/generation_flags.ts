/** Generation flags shared by `generate` and `chat`, turned into GenerationOptions. */
import { checkGenerationOptions, InputError, type GenerationOptions } from '../index.node.js';

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

/** Library option names as this command spells them. */
const FLAG_NAMES: Record<string, string> = {
  ...Object.fromEntries(Object.keys(GENERATION_FLAGS).map((f) => [f.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), `--${f}`])),
  stopStrings: '--stop',
  doSample: '--do-sample',
  dtype: '--dtype',
  engine: '--engine',
  device: '--device',
  threads: '--threads',
  kvCacheDtype: '--kv-cache',
  imageAspectRatio: '--image-aspect-ratio',
};

/** The flag for a library option name, or the name itself. */
export const flagOf = (option: string): string => FLAG_NAMES[option] ?? option;

/**
 * A library error about an option this command passed (e.g. "maxNewTokens must be a positive integer") as the
 * usage error it is, naming the flag; null for any other error.
 */
export function asUsageError(e: unknown): UsageError | null {
  if (!(e instanceof InputError)) return null;
  let named = false;
  const flag = (word: string) => {
    named = true;
    return FLAG_NAMES[word];
  };
  // camelCase option names anywhere ("lower maxNewTokens to …"); one-word ones ("temperature") only as the subject
  const message = e.message
    .replace(/^([a-z]+)(?= must )/, (word) => (word in FLAG_NAMES ? flag(word) : word))
    .replace(/\b[a-z]+(?:[A-Z][a-z]*)+\b/g, (word) => (word in FLAG_NAMES ? flag(word) : word));
  return named ? new UsageError(message) : null;
}

function number(values: Values, flag: keyof typeof GENERATION_FLAGS, integer: boolean): number | undefined {
  const raw = values[flag];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new UsageError(`--${flag} must be ${integer ? 'an integer' : 'a number'}, got "${raw}"`);
  return n;
}

/** The flags as options, checked before any model loads; `hubTemplate` adds the default "###" stop string. */
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
  checkGenerationOptions(o);
  return o;
}
