/**
 * Admission: requests run one at a time on the model, in arrival order; beyond the one running, at most
 * `maxQueue` wait, and a request that finds the queue full is refused at once (503, Retry-After). A waiting
 * request whose client goes away leaves the queue. (Batching concurrent requests into one decode is not here yet.)
 */
import { ApiError } from './errors.js';

interface Waiting {
  start: () => void;
}

export class Scheduler {
  private readonly waiting: Waiting[] = [];
  private busy = false;

  constructor(
    readonly maxQueue: number,
    private readonly onChange: (running: number, queued: number) => void = () => {},
  ) {}

  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `job` when the model is free; rejects with 503 when the queue is full, or when `signal` aborts while waiting. */
  async run<T>(job: () => Promise<T>, signal: AbortSignal): Promise<T> {
    if (this.busy) await this.wait(signal);
    this.busy = true;
    this.onChange(1, this.waiting.length);
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      if (next) next.start(); // the slot passes straight to the next request: busy stays set
      else this.busy = false;
      this.onChange(this.busy ? 1 : 0, this.waiting.length);
    }
  }

  private wait(signal: AbortSignal): Promise<void> {
    if (this.waiting.length >= this.maxQueue) {
      return Promise.reject(new ApiError(503, `the server is busy: ${this.waiting.length} requests are already waiting`, null, 'queue_full', 1));
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const at = this.waiting.indexOf(entry);
        if (at >= 0) this.waiting.splice(at, 1);
        this.onChange(1, this.waiting.length);
        reject(signal.reason);
      };
      const entry: Waiting = {
        start: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
      this.onChange(1, this.waiting.length);
    });
  }
}
