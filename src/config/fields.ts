/** Typed reads from a parsed config.json object; every error names the field by its path. */
import { ConfigError } from '../errors.js';
import type { FloatDtype } from '../vocabulary.js';

export type Json = Record<string, unknown>;

/** A value as JSON for a message (a structure JSON cannot hold, such as a cycle, by its type). */
export function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return `a ${typeof v} that is not JSON`;
  }
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class Fields {
  constructor(
    readonly obj: Json,
    /** e.g. "text_config." (empty at top level) */
    readonly prefix: string,
    /** e.g. "config.json" — where the object came from, for messages */
    readonly source: string,
  ) {}

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  fail(key: string, what: string): never {
    throw new ConfigError(`${this.source}: ${this.prefix}${key} ${what}`);
  }

  int(key: string, fallback: number, { min = -Infinity } = {}): number {
    const v = this.obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(key, `must be an integer, got ${show(v)}`);
    if (v < min) this.fail(key, `must be >= ${min}, got ${v}`);
    return v;
  }

  num(key: string, fallback: number, { positive = false } = {}): number {
    const v = this.obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, `must be a number, got ${show(v)}`);
    if (positive && v <= 0) this.fail(key, `must be > 0, got ${v}`);
    return v;
  }

  str(key: string, fallback: string): string {
    const v = this.obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string') this.fail(key, `must be a string, got ${show(v)}`);
    return v;
  }

  oneOf<T extends string>(key: string, fallback: T, allowed: readonly T[]): T {
    const v = this.str(key, fallback);
    if (!allowed.includes(v as T)) {
      this.fail(key, `"${v}" is not supported (supported: ${allowed.map((a) => `"${a}"`).join(', ')})`);
    }
    return v as T;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${show(v)}`);
    return v;
  }

  /** An int, or a list of ints (e.g. eos_token_id). */
  intOrList(key: string): number | number[] | null {
    const v = this.obj[key];
    if (v === undefined || v === null) return null;
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    if (Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x))) return v as number[];
    this.fail(key, `must be an integer or a list of integers, got ${show(v)}`);
  }

  /** A square size given as an int or as [h, w] with h == w. */
  squareSize(key: string, fallback: number): number {
    const v = this.obj[key];
    if (Array.isArray(v)) {
      if (v.length === 2 && v[0] === v[1] && Number.isInteger(v[0])) return v[0] as number;
      this.fail(key, `${show(v)} is not supported (only square sizes are)`);
    }
    return this.int(key, fallback, { min: 1 });
  }

  sub(key: string): Fields | null {
    const v = this.obj[key];
    if (v === undefined || v === null) return null;
    if (!isObject(v)) this.fail(key, `must be an object, got ${show(v)}`);
    return new Fields(v, `${this.prefix}${key}.`, this.source);
  }
}

/** The checkpoint dtype from `dtype` (5.x) or `torch_dtype` (4.x). */
export function readDtype(f: Fields): FloatDtype | null {
  const key = f.has('dtype') ? 'dtype' : f.has('torch_dtype') ? 'torch_dtype' : null;
  if (!key) return null;
  return f.oneOf<FloatDtype>(key, 'float32', ['float32', 'float16', 'bfloat16']);
}
