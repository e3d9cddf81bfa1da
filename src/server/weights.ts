/**
 * The served checkpoint's files in the hub's layout, `GET|HEAD /hub/<name>/resolve/<revision>/<file>`, so a
 * browser loads the model with `fromPretrained(name, { endpoint: origin + '/hub' })` and computes the answers
 * itself (the drawing page's "this browser" mode), and another machine's `vipllava` can load it as from a hub.
 * Only the files a load reads are served, by name from the checkpoint's folder, with byte ranges
 * (@fastify/send), the hub's headers (X-Repo-Commit, ETag, X-Error-Code) and conditional requests. The API key,
 * when set, guards them as it guards the API.
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import send from '@fastify/send';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.js';

/** What a load reads: configs, tokenizer, processor and template files, the shard index and the shards. */
const SERVED = /^(config|generation_config|tokenizer|tokenizer_config|special_tokens_map|chat_template|preprocessor_config|processor_config|model\.safetensors\.index)\.json$|^chat_template\.jinja$|^[\w.-]+\.safetensors$/;

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

/**
 * The folder's version as a hub commit (40 hex digits): a hash of the shared files' names, sizes and modification
 * times, so it changes when any of them does. ETags are the same per file.
 */
async function versions(dir: string): Promise<{ commit: string; etags: Map<string, string> }> {
  const etags = new Map<string, string>();
  for (const name of (await readdir(dir)).filter((f) => SERVED.test(f)).sort()) {
    const s = await stat(join(dir, name)).catch(() => null);
    if (s?.isFile()) etags.set(name, sha1(`${name}\0${s.size}\0${s.mtimeMs}\0${s.ino}`));
  }
  return { commit: sha1([...etags].join('\n')), etags };
}

export function weightRoutes(app: FastifyInstance, name: string, dir: string | null): void {
  // fastify answers HEAD with this route too (send() leaves the body out)
  app.get<{ Params: { name: string; revision: string; '*': string } }>('/hub/:name/resolve/:revision/*', async (req, reply) => {
    const { revision, '*': file } = req.params;
    if (req.params.name !== name) {
      void reply.header('x-error-code', 'RepoNotFound');
      throw new ApiError(404, `model "${req.params.name}" is not served here (this server serves "${name}")`, null, 'model_not_found');
    }
    if (!dir) throw new ApiError(404, `the files of "${name}" are not shared: its checkpoint is not a folder on this server, or --private-weights is set`, null, 'not_found');
    const { commit, etags } = await versions(dir);
    if (revision !== 'main' && revision !== commit) {
      void reply.header('x-error-code', 'RevisionNotFound');
      throw new ApiError(404, `revision "${revision}" of "${name}" is not served here (main is ${commit})`, null, 'not_found');
    }
    void reply.header('x-repo-commit', commit);
    const etag = etags.get(file);
    if (!etag) {
      void reply.header('x-error-code', 'EntryNotFound');
      throw new ApiError(404, SERVED.test(file) ? `${file} is not in the checkpoint of "${name}"` : `"${file}" is not a checkpoint file this server shares`, null, 'not_found');
    }
    void reply.header('etag', `"${etag}"`).header('cache-control', 'no-cache');
    // a range is always sent: a 304 to one range would let a client's cache answer with another it holds
    if (!req.headers.range && req.headers['if-none-match']?.split(/,\s*/).includes(`"${etag}"`)) return reply.status(304).send();
    const r = await send(req.raw, encodeURIComponent(file), { root: dir, dotfiles: 'deny', index: false, cacheControl: false, etag: false, lastModified: false });
    if (r.type === 'error') {
      const status = (r.metadata.error as { status?: number }).status ?? 500;
      if (status === 416) throw new ApiError(416, `${file}: the range ${req.headers.range} is not within the file`, 'range', 'range_not_satisfiable');
      throw new ApiError(status, `${file}: ${r.metadata.error.message}`, null, 'file_error');
    }
    return reply.status(r.statusCode).headers(r.headers).send(r.stream);
  });
}
