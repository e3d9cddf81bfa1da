/**
 * Downloads one file of a hub repository into the cache, the way huggingface_hub does: a HEAD on the
 * `resolve` URL gives the commit, ETag and size; the body goes to blobs/<etag>.incomplete, resuming with a
 * Range request after a dropped connection; the finished blob is linked from snapshots/<commit>/<file>.
 */
import { createWriteStream, existsSync, mkdirSync, renameSync, statSync, symlinkSync, copyFileSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { HubError } from '../errors.js';
import { noExistPath, snapshotPath, COMMIT_HASH } from './cache.js';

import type { DownloadProgress } from '../io/progress.js';

export interface HubRequest {
  endpoint: string;
  repoId: string;
  revision: string;
  token?: string;
  repoDir: string;
  onProgress?: (p: DownloadProgress) => void;
  /** Attempts per file before giving up (each resumes where the last stopped). */
  maxAttempts?: number;
}

interface FileMeta {
  commit: string;
  etag: string;
  size: number;
  /** Where to GET the body (the resolve URL, or the redirect target the hub gave for LFS files). */
  url: string;
}

/** The hub could not be reached at all (no answer): a cached snapshot's optional files are then skipped. */
export class HubUnreachable extends HubError {}

function resolveUrl(r: HubRequest, file: string): string {
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${r.endpoint.replace(/\/+$/, '')}/${r.repoId}/resolve/${encodeURIComponent(r.revision)}/${path}`;
}

function headers(r: HubRequest, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { 'user-agent': 'vipllava', 'accept-encoding': 'identity', ...extra };
  if (r.token) h.authorization = `Bearer ${r.token}`;
  return h;
}

const cleanEtag = (e: string) => e.replace(/^W\//, '').replace(/"/g, '');

/** HEAD the resolve URL. A file the repository does not have gives `missing` (with the commit, if told). */
async function head(r: HubRequest, file: string): Promise<FileMeta | { missing: true; commit: string | null }> {
  const url = resolveUrl(r, file);
  let res: Response;
  try {
    res = await fetch(url, { method: 'HEAD', redirect: 'manual', headers: headers(r) });
  } catch (e) {
    throw new HubUnreachable(`cannot reach ${r.endpoint} for ${r.repoId}/${file}: ${(e as Error).cause ?? (e as Error).message}`);
  }
  if (res.status === 401 || res.status === 403) {
    throw new HubError(`access to ${r.repoId} was refused (HTTP ${res.status}); set HF_TOKEN if the repository is gated or private`);
  }
  if (res.status === 404) {
    const code = res.headers.get('x-error-code');
    if (code === 'RepoNotFound') throw new HubError(`repository ${r.repoId} was not found on ${r.endpoint}`);
    if (code === 'RevisionNotFound') throw new HubError(`revision "${r.revision}" of ${r.repoId} was not found`);
    const commit = res.headers.get('x-repo-commit');
    return { missing: true, commit: commit && COMMIT_HASH.test(commit) ? commit : null };
  }
  if (res.status >= 400) throw new HubError(`HTTP ${res.status} for ${url}`);
  const commit = res.headers.get('x-repo-commit') ?? (COMMIT_HASH.test(r.revision) ? r.revision : null);
  const etag = res.headers.get('x-linked-etag') ?? res.headers.get('etag');
  const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length'));
  if (!commit || !COMMIT_HASH.test(commit)) throw new HubError(`${url} did not report a commit (X-Repo-Commit header)`);
  if (!etag) throw new HubError(`${url} did not report an ETag`);
  if (!Number.isFinite(size)) throw new HubError(`${url} did not report a file size`);
  const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
  return { commit, etag: cleanEtag(etag), size, url: location ? new URL(location, url).toString() : url };
}

/** Fetches the body into `part`, resuming from its current length; returns when the file is complete. */
async function fetchBody(r: HubRequest, file: string, meta: FileMeta, part: string): Promise<void> {
  const attempts = r.maxAttempts ?? 5;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    let have = existsSync(part) ? statSync(part).size : 0;
    if (have > meta.size) {
      rmSync(part);
      have = 0;
    }
    if (have === meta.size) return;
    try {
      // Only send the token to the hub itself, not to a CDN it redirects to.
      const sameHost = new URL(meta.url).host === new URL(r.endpoint).host;
      const extra: Record<string, string> = have > 0 ? { range: `bytes=${have}-` } : {};
      const res = await fetch(meta.url, { headers: sameHost ? headers(r, extra) : { 'accept-encoding': 'identity', ...extra } });
      if (res.status === 416 && have === meta.size) return;
      if (!res.ok || !res.body) throw new HubError(`HTTP ${res.status} while downloading ${r.repoId}/${file}`);
      if (have > 0 && res.status !== 206) have = 0; // the server ignored Range: start over
      const out = createWriteStream(part, { flags: have > 0 ? 'a' : 'w' });
      let loaded = have;
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          if (!out.write(chunk)) await new Promise<void>((ok) => out.once('drain', () => ok()));
          loaded += chunk.length;
          r.onProgress?.({ stage: 'download', file, loaded, total: meta.size });
        }
      } finally {
        await new Promise<void>((ok, fail) => out.end((e?: Error | null) => (e ? fail(e) : ok())));
      }
      if (statSync(part).size === meta.size) return;
      lastError = new Error(`connection closed after ${loaded} of ${meta.size} bytes`);
    } catch (e) {
      if (e instanceof HubError) throw e;
      lastError = e;
    }
  }
  throw new HubError(`download of ${r.repoId}/${file} failed after ${attempts} attempts: ${(lastError as Error)?.message ?? lastError}`);
}

function link(blob: string, target: string): void {
  mkdirSync(dirname(target), { recursive: true });
  rmSync(target, { force: true });
  try {
    symlinkSync(relative(dirname(target), blob), target);
  } catch {
    copyFileSync(blob, target); // file systems without symlinks
  }
}

/**
 * Makes `file` of the repository present in the cache and returns its snapshot path, or null when the
 * repository has no such file (recorded under .no_exist so the next run need not ask).
 */
export async function downloadFile(r: HubRequest, file: string): Promise<{ path: string | null; commit: string | null }> {
  const meta = await head(r, file);
  if ('missing' in meta) {
    if (meta.commit) markMissing(r.repoDir, meta.commit, file);
    return { path: null, commit: meta.commit };
  }
  const blob = join(r.repoDir, 'blobs', meta.etag);
  mkdirSync(dirname(blob), { recursive: true });
  if (!existsSync(blob) || statSync(blob).size !== meta.size) {
    const part = `${blob}.incomplete`;
    await fetchBody(r, file, meta, part);
    renameSync(part, blob);
  } else {
    r.onProgress?.({ stage: 'download', file, loaded: meta.size, total: meta.size });
  }
  const target = snapshotPath(r.repoDir, meta.commit, file);
  link(blob, target);
  if (!COMMIT_HASH.test(r.revision)) {
    mkdirSync(join(r.repoDir, 'refs'), { recursive: true });
    writeFileSync(join(r.repoDir, 'refs', r.revision), meta.commit);
  }
  return { path: target, commit: meta.commit };
}

/** Records that the repository at `commit` has no `file`. */
export function markMissing(repoDir: string, commit: string, file: string): void {
  const p = noExistPath(repoDir, commit, file);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, '');
}
