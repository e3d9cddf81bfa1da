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

/** The native engine's limits as NativeBackend.limits() gives them. */
export interface Limits {
  fp32: number;
  bf16: number;
  int8: number;
  q8: number;
  readGBs: number;
}

export function limitsLine(l: Limits): string {
  const q8 = l.q8 !== l.int8 ? `, 8-bit × 8-bit ${l.q8.toFixed(0)}` : '';
  return `fp32 FMA ${l.fp32.toFixed(0)}, bf16 ${l.bf16 > 0 ? l.bf16.toFixed(0) : 'none'} GFLOP/s, int8 ${l.int8.toFixed(0)}${q8} GOP/s, read ${l.readGBs.toFixed(1)} GB/s`;
}

/**
 * The peak a linear layer of a weight format is bound by with the kernels in use: bf16 dot products (fp32 FMA
 * where the CPU has none, bf16 then computing in fp32), the 8-bit × 8-bit dot for q8_0, the int8 instruction of
 * the Q4_0 kernels for q4_0, fp32 FMA otherwise.
 */
export function peakFor(format: string, l: Limits): { name: string; value: number } {
  if (format === 'bfloat16' && l.bf16 > 0) return { name: 'bf16', value: l.bf16 };
  if (format === 'q8_0' && l.q8 > 0) return { name: l.q8 !== l.int8 ? '8-bit dot' : 'int8', value: l.q8 };
  if (format === 'q4_0' && l.int8 > 0) return { name: 'int8', value: l.int8 };
  return { name: 'fp32', value: l.fp32 }; // also the portable kernels' int8 paths, which have no int8 instruction
}
