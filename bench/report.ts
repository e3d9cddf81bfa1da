/** Shared timing for benchmarks: warm-up runs excluded, median and spread of the timed runs, machine named. */
import { cpus, totalmem } from 'node:os';

export function machine(): string {
  const c = cpus();
  return `${c[0]?.model ?? 'unknown CPU'}, ${c.length} logical cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

export interface Timing {
  median: number;
  min: number;
  max: number;
  runs: number;
}

/** Seconds per call of `fn`: `warmup` untimed calls, then `runs` timed ones. */
export async function time(fn: () => unknown | Promise<unknown>, { warmup = 1, runs = 5 } = {}): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], min: samples[0], max: samples.at(-1)!, runs };
}

export function fmt(t: Timing, unit = 'ms'): string {
  const k = unit === 'ms' ? 1e3 : 1;
  return `${(t.median * k).toFixed(2)} ${unit} (min ${(t.min * k).toFixed(2)}, max ${(t.max * k).toFixed(2)}, n=${t.runs})`;
}
