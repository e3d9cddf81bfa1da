/**
 * JSON text that keeps Python's floats floats. JSON.parse reads `1.0` as 1, which JSON.stringify writes as `1`,
 * and transformers 5.x's strict config classes refuse an int where a float field is typed
 * (CLIPVisionConfig.initializer_factor). The keys whose values a source file wrote as float literals are
 * collected from its text, and integral numbers under those keys are written back with ".0".
 */
import type { Json } from '../config/fields.js';

const FLOAT_MEMBER = /"((?:[^"\\]|\\.)*)"\s*:\s*-?\d+(?:\.\d+(?:[eE][+-]?\d+)?|[eE][+-]?\d+)/g;

/** The keys (at any depth) that a JSON text gives float literals, e.g. `"initializer_factor": 1.0`. */
export function floatKeys(text: string): Set<string> {
  const keys = new Set<string>();
  for (const m of text.matchAll(FLOAT_MEMBER)) keys.add(JSON.parse(`"${m[1]}"`) as string);
  return keys;
}

/** `value` as JSON.stringify(value, null, 2) writes it, plus a newline, with integral numbers under `floats` keys written as floats. */
export function jsonText(value: Json, floats: ReadonlySet<string> = new Set()): string {
  return `${write(value, '', false)}\n`;

  function write(v: unknown, indent: string, float: boolean): string {
    if (typeof v === 'number' && float && Number.isInteger(v) && !/e/.test(String(v))) return `${v}.0`;
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      const inner = `${indent}  `;
      return `[\n${v.map((x) => inner + write(x, inner, float)).join(',\n')}\n${indent}]`;
    }
    if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v).filter(([, x]) => x !== undefined);
      if (entries.length === 0) return '{}';
      const inner = `${indent}  `;
      return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${write(x, inner, floats.has(k))}`).join(',\n')}\n${indent}}`;
    }
    return JSON.stringify(v) ?? 'null';
  }
}
