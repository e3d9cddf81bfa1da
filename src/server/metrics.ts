/** The server's Prometheus metrics (prom-client), in a registry of its own. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'vipllava_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [this.registry] });
  readonly queueDepth = new Gauge({ name: 'vipllava_queue_depth', help: 'Requests waiting for the model', registers: [this.registry] });
  readonly batchOccupancy = new Gauge({ name: 'vipllava_batch_occupancy', help: 'Requests generating now', registers: [this.registry] });
  readonly timeToFirstToken = new Histogram({
    name: 'vipllava_time_to_first_token_seconds',
    help: 'From the request reaching the model to its first token',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly tokenLatency = new Histogram({
    name: 'vipllava_token_latency_seconds',
    help: 'Time between consecutive generated tokens of a request',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly tokensGenerated = new Counter({ name: 'vipllava_tokens_generated_total', help: 'Tokens generated', registers: [this.registry] });
  readonly promptTokens = new Counter({ name: 'vipllava_prompt_tokens_total', help: 'Prompt tokens processed (image tokens included)', registers: [this.registry] });
  readonly reusedTokens = new Counter({ name: 'vipllava_prompt_tokens_reused_total', help: 'Prompt tokens taken from a stored conversation instead of prefilled', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'vipllava_process_' });
  }
}
