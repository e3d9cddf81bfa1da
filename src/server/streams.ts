/** Streamed responses (server-sent events, NDJSON) that start only with their first byte, and the client going away. */
import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';

/** Aborts when the client closes the connection before the response has been written in full. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) ac.abort(new Error('the client went away'));
  });
  return ac.signal;
}

/**
 * A body written piece by piece. The response is sent on the first write, so an error before it is still an
 * ordinary error response; the reply goes through fastify's hooks (CORS, metrics, the log line) either way.
 */
export function openStream(reply: FastifyReply, contentType: string) {
  const body = new PassThrough();
  let started = false;
  return {
    gone: clientGone(reply),
    get started() {
      return started;
    },
    write(text: string): void {
      if (!started) {
        started = true;
        void reply.header('content-type', contentType).header('cache-control', 'no-cache').send(body);
      }
      body.write(text);
    },
    end(): void {
      if (started) body.end();
    },
  };
}
