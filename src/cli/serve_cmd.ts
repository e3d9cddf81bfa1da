/** `vipllava serve`: the model loaded once and served over OpenAI's and Ollama's APIs until Ctrl-C. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint, VipLlavaForConditionalGeneration, VipLlavaProcessor, DEFAULT_MAX_PIXELS, type FromPretrainedOptions } from '../index.node.js';
import { createServer } from '../server/app.js';
import { Service, type ModelInfo } from '../server/service.js';
import { UsageError } from './generation_flags.js';

export const SERVE_FLAGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  'api-key': { type: 'string' },
  'api-key-file': { type: 'string' },
  'max-batch': { type: 'string' },
  'max-queue': { type: 'string' },
  'prefix-cache-mb': { type: 'string' },
  'max-images': { type: 'string' },
  'max-image-mpixels': { type: 'string' },
  'max-body-mb': { type: 'string' },
  'request-timeout': { type: 'string' },
  cors: { type: 'string' },
  'image-root': { type: 'string' },
  'allow-remote-images': { type: 'boolean', default: false },
  'private-weights': { type: 'boolean', default: false },
} as const;

export const SERVE_HELP = `serve options:
  --host H                  address to listen on (default 127.0.0.1: this machine only)
  --port N                  default 8080 (0: any free port)
  --api-key KEY | --api-key-file F
                            require "Authorization: Bearer KEY" on every route but /health
  --max-batch N             requests decoded together, joining and leaving at each step (default 4)
  --max-queue N             requests waiting beyond a full batch (default 16; more: 503)
  --prefix-cache-mb N       memory for finished conversations' keys and values, so a next turn prefills only
                            its new tokens (default 2048; 0: off)
  --max-images N            images per request (default 4)
  --max-image-mpixels N     megapixels per decoded image (default 40)
  --max-body-mb N           request body limit (default 32)
  --request-timeout S       seconds a request may take, waiting included (default 600)
  --cors ORIGIN             allow browsers from ORIGIN (default: no CORS)
  --image-root DIR          allow file:// images under DIR
  --allow-remote-images     allow http(s) images (public addresses only, 20 MB, 10 s)
  --private-weights         do not share the checkpoint's files at /hub/<name>/resolve/main/<file> (the page's
                            "this browser" mode loads the model from there)`;

type Values = Partial<Record<keyof typeof SERVE_FLAGS, string | boolean>>;

function count(values: Values, flag: keyof typeof SERVE_FLAGS, fallback: number, min = 1): number {
  const raw = values[flag];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

/** Bytes of the checkpoint's weight files, when it is a folder. */
function weightBytes(dir: string | undefined): number {
  if (!dir) return 0;
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.safetensors')).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
  } catch {
    return 0;
  }
}

export async function serveCommand(model: string, hub: FromPretrainedOptions, values: Values): Promise<void> {
  const port = count(values, 'port', 8080, 0);
  const host = (values.host as string | undefined) ?? '127.0.0.1';
  if (values['api-key'] !== undefined && values['api-key-file'] !== undefined) throw new UsageError('give --api-key or --api-key-file, not both');
  let apiKey = values['api-key'] as string | undefined;
  if (values['api-key-file'] !== undefined) {
    try {
      apiKey = readFileSync(values['api-key-file'] as string, 'utf8').trim();
    } catch (e) {
      throw new UsageError(`--api-key-file: cannot read ${String(values['api-key-file'])} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (apiKey === '') throw new UsageError('the API key is empty');
  const options = {
    images: {
      maxPixels: Math.min(DEFAULT_MAX_PIXELS, count(values, 'max-image-mpixels', 40) * 1e6),
      maxBytes: 20 << 20,
      imageRoot: values['image-root'] as string | undefined,
      allowRemote: values['allow-remote-images'] === true,
      remoteTimeoutMs: 10_000,
    },
    maxImages: count(values, 'max-images', 4),
    maxBatch: count(values, 'max-batch', 4),
    maxQueue: count(values, 'max-queue', 16, 0),
    prefixCacheBytes: count(values, 'prefix-cache-mb', 2048, 0) * 2 ** 20,
    timeoutMs: count(values, 'request-timeout', 600) * 1000,
  };
  const bodyLimit = count(values, 'max-body-mb', 32) << 20;

  const processor = await VipLlavaProcessor.fromPretrained(model, hub);
  const vip = await VipLlavaForConditionalGeneration.fromPretrained(model, hub);
  const c = vip.config;
  const checkpoint = openCheckpoint(model, hub);
  const parameters = [...VipLlavaForConditionalGeneration.parameterShapes(c).values()].reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
  const info: ModelInfo = {
    name: (checkpoint.directory ?? model).replace(/\/+$/, '').split('/').pop()!,
    parameters,
    sizeBytes: weightBytes(checkpoint.directory ?? undefined),
    dtype: hub.dtype && hub.dtype !== 'auto' ? hub.dtype : (c.dtype ?? 'float32'),
  };
  const service = new Service({ model: vip, processor, templateStops: ['###'] }, info, options);
  const weightsDir = values['private-weights'] === true ? null : checkpoint.directory;
  const app = await createServer(service, { apiKey, cors: values.cors as string | undefined, bodyLimit, log: process.stderr, weightsDir });
  const address = await app.listen({ host, port });
  process.stderr.write(`vipllava: serving ${info.name} at ${address} (OpenAI: /v1/chat/completions, Ollama: /api/chat)\n`);
  await new Promise<void>((resolve) => {
    const stop = () => void app.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
