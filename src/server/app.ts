/**
 * The HTTP server (fastify): OpenAI- and Ollama-compatible routes over one loaded model, visual prompts in both,
 * `/v1/visual-prompts/render`, `/health`, `/metrics`, the drawing page at `/` and the checkpoint's files under `/hub/`. Every body is checked against its JSON schema; an API
 * key, when set, is checked in constant time on every route but /health; CORS is off unless an origin is given.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { encodePng, PAGE_DIR, type VisualPrompt } from '../index.node.js';
import { ApiError, ollamaError, openaiError, toApiError } from './errors.js';
import { ollamaRoutes } from './ollama.js';
import { openaiRoutes } from './openai.js';
import { RENDER } from './schemas.js';
import type { Service, VisualPromptOptions } from './service.js';
import { weightRoutes } from './weights.js';

export interface ServerOptions {
  apiKey?: string;
  /** An allowed origin for browsers (CORS), or none. */
  cors?: string;
  /** Bytes per request body. */
  bodyLimit: number;
  /** One JSON log line per request on this stream; none for silence. */
  log?: NodeJS.WritableStream;
  /** The checkpoint's folder, whose files /hub/<name>/resolve/… shares (for the page's in-browser mode); none: not shared. */
  weightsDir?: string | null;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether the request carries the key (as "Authorization: Bearer KEY"), compared in constant time. */
function authorized(req: FastifyRequest, key: Buffer): boolean {
  const header = req.headers.authorization ?? '';
  const given = header.startsWith('Bearer ') ? header.slice(7) : '';
  return timingSafeEqual(digest(given), key);
}

const isOllama = (url: string) => url.startsWith('/api/');

/** The page's files (fixed names, so no path reaches outside PAGE_DIR); they hold no data, so no key guards them. */
const PAGE_FILES: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/page/app.js': ['page/app.js', 'text/javascript; charset=utf-8'],
  '/page/app.js.map': ['page/app.js.map', 'application/json'],
};
const isOpen = (url: string) => url === '/health' || url.split('?')[0] in PAGE_FILES;

export async function createServer(service: Service, o: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: o.bodyLimit,
    logger: o.log ? { stream: o.log, level: 'info' } : false,
    logController: new LogController({ disableRequestLogging: true }), // one line per request, written in onResponse
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  if (o.cors) await app.register(cors, { origin: o.cors });
  // Ollama's clients (and its README's curl lines) send JSON without saying so: any body is read as JSON.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new ApiError(400, 'the body is not valid JSON', null, 'invalid_json'));
    }
  });

  const key = o.apiKey ? digest(o.apiKey) : null;
  app.addHook('onRequest', async (req) => {
    if (key && !isOpen(req.url) && !(req.method === 'OPTIONS' && o.cors) && !authorized(req, key)) {
      throw new ApiError(401, 'a valid API key is required (Authorization: Bearer <key>)', null, 'invalid_api_key');
    }
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    service.metrics.requests.inc({ route, status: String(reply.statusCode) });
    req.log.info({ method: req.method, route, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  app.setErrorHandler((error, req, reply) => sendError(reply, toApiError(error), req.url));
  app.setNotFoundHandler((req, reply) => sendError(reply, new ApiError(404, `no route ${req.method} ${req.url.split('?')[0]}`, null, 'not_found'), req.url));

  app.get('/health', async () => ({ status: 'ok', model: service.info.name, ...service.batcher.size }));
  app.get('/metrics', async (_req, reply) => reply.type(service.metrics.registry.contentType).send(await service.metrics.registry.metrics()));

  app.post<{ Body: { image: string; visual_prompts: VisualPrompt[]; visual_prompt_options?: VisualPromptOptions } }>('/v1/visual-prompts/render', { schema: { body: RENDER } }, async (req, reply) => {
    const [image] = await service.images([{ ref: req.body.image, param: 'image' }]);
    const { image: marked, drawn } = service.draw(image, req.body.visual_prompts, req.body.visual_prompt_options, 'visual_prompts');
    return reply
      .type('image/png')
      .header('x-vipllava-phrases', JSON.stringify(drawn.map((d) => d.phrase)))
      .send(Buffer.from(await encodePng(marked)));
  });

  for (const [route, [file, type]] of Object.entries(PAGE_FILES)) {
    app.get(route, async (_req, reply) => {
      const body = await readFile(join(PAGE_DIR, file)).catch(() => null);
      if (!body) throw new ApiError(404, 'the page is not built (npm run build:page)', null, 'not_found');
      return reply.type(type).header('cache-control', 'no-cache').send(body);
    });
  }

  openaiRoutes(app, service);
  ollamaRoutes(app, service);
  weightRoutes(app, service.info.name, o.weightsDir ?? null);
  return app;
}

function sendError(reply: FastifyReply, e: ApiError, url: string): FastifyReply {
  if (e.retryAfter !== undefined) void reply.header('retry-after', String(e.retryAfter));
  return reply.status(e.status).send(isOllama(url) ? ollamaError(e) : openaiError(e));
}
