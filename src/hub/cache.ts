/**
 * The Hugging Face hub cache layout, shared with Python's huggingface_hub:
 *
 *   <cache>/models--<org>--<name>/refs/<revision>              the commit a branch or tag points to
 *   <cache>/models--<org>--<name>/blobs/<etag>                 file contents, named by ETag (sha256 for LFS)
 *   <cache>/models--<org>--<name>/snapshots/<commit>/<file>    symlinks into blobs/
 *   <cache>/models--<org>--<name>/.no_exist/<commit>/<file>    marks a file the hub does not have
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub ($XDG_CACHE_HOME honoured). */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, 'hub');
  const xdg = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(xdg, 'huggingface', 'hub');
}

export function repoFolder(cacheDir: string, repoId: string): string {
  return join(cacheDir, `models--${repoId.replaceAll('/', '--')}`);
}

/** The commit a revision names in the cache, or null if the cache has never seen it. */
export function cachedCommit(repoDir: string, revision: string): string | null {
  if (COMMIT_HASH.test(revision)) return existsSync(join(repoDir, 'snapshots', revision)) ? revision : null;
  const ref = join(repoDir, 'refs', revision);
  if (!existsSync(ref)) return null;
  const commit = readFileSync(ref, 'utf8').trim();
  return COMMIT_HASH.test(commit) ? commit : null;
}

export function snapshotPath(repoDir: string, commit: string, file: string): string {
  return join(repoDir, 'snapshots', commit, file);
}

export function noExistPath(repoDir: string, commit: string, file: string): string {
  return join(repoDir, '.no_exist', commit, file);
}
