/** Option checks whose errors name the option (as the caller spells it) and what it may be. */
import { InputError } from './errors.js';

/** `value` when it is one of `allowed`; else an InputError naming `option`. */
export function oneOf<T extends string>(value: unknown, allowed: readonly T[], option: string): T {
  if (typeof value === 'string' && allowed.includes(value as T)) return value as T;
  throw new InputError(`${option} must be one of ${allowed.join(', ')}, got "${String(value)}"`);
}

/** `value` when it is an integer >= 1; else an InputError naming `option`. */
export function positiveInteger(value: unknown, option: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return value;
  throw new InputError(`${option} must be a positive integer, got "${String(value)}"`);
}
