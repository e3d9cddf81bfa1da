/**
 * Finds the files of a checkpoint: a local folder; else the Hugging Face cache (so checkpoints downloaded by
 * Python are reused); else a download from the hub into that same cache.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { HubError } from '../errors.js';
import type { ByteSource } from '../io/byte_source.js';
import { REPO_ID, type CheckpointFiles, type ResolveOptions } from '../io/checkpoint.js';
import { FileSource } from '../io/file_source.node.js';
import { cachedCommit, defaultCacheDir, noExistPath, repoFolder, snapshotPath } from './cache.js';
import { downloadFile, HubUnreachable, type HubRequest } from './download.js';

function envToken(env: NodeJS.ProcessEnv): string | undefined {
  if (env.HF_TOKEN) return env.HF_TOKEN;
  const file = env.HF_TOKEN_PATH ?? join(env.HF_HOME ?? join(homedir(), '.cache', 'huggingface'), 'token');
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A checkpoint's files on this machine: a folder, or a hub repository's snapshot in the cache (downloading what is missing). */
export class Snapshot implements CheckpointFiles {
  private constructor(
    /** A local folder, or null for a hub repository. */
    private readonly folder: string | null,
    readonly description: string,
    private readonly hub: (HubRequest & { offline: boolean }) | null,
    private commit: string | null,
  ) {}

  static open(pathOrId: string, options: ResolveOptions = {}): Snapshot {
    const local = resolve(pathOrId.startsWith('~/') ? join(homedir(), pathOrId.slice(2)) : pathOrId);
    if (existsSync(local)) {
      if (!statSync(local).isDirectory()) throw new HubError(`${local} is a file; give the checkpoint's folder`);
      return new Snapshot(local, local, null, null);
    }
    if (!REPO_ID.test(pathOrId)) throw new HubError(`no checkpoint folder at ${local}`);
    const env = process.env;
    const revision = options.revision ?? 'main';
    const cacheDir = options.cacheDir ?? defaultCacheDir(env);
    const repoDir = repoFolder(cacheDir, pathOrId);
    const offline = options.localFilesOnly ?? ['1', 'true', 'yes', 'on'].includes((env.HF_HUB_OFFLINE ?? '').toLowerCase());
    const hub = {
      endpoint: options.endpoint ?? env.HF_ENDPOINT ?? 'https://huggingface.co',
      repoId: pathOrId,
      revision,
      token: options.token ?? envToken(env),
      repoDir,
      onProgress: options.onProgress,
      offline,
    };
    return new Snapshot(null, `${pathOrId}@${revision}`, hub, cachedCommit(repoDir, revision));
  }

  /** Folder holding the files (the snapshot folder for hub checkpoints, once something is cached). */
  get directory(): string | null {
    if (this.folder) return this.folder;
    return this.commit && this.hub ? join(this.hub.repoDir, 'snapshots', this.commit) : null;
  }

  /**
   * `file`, downloading it if needed; null if the checkpoint has no such file, or if the hub cannot be reached
   * and a snapshot is cached (as huggingface_hub skips optional files offline).
   */
  async optionalFile(file: string): Promise<ByteSource | null> {
    let path: string | null;
    try {
      path = await this.optionalPath(file);
    } catch (e) {
      if (e instanceof HubUnreachable && this.commit) return null;
      throw e;
    }
    return path === null ? null : new FileSource(path);
  }

  /** `file`; an error naming the checkpoint if it has none. */
  async file(file: string): Promise<ByteSource> {
    return new FileSource(await this.path(file));
  }

  /** Path of `file`, downloading it if needed; null if the checkpoint has no such file. */
  async optionalPath(file: string): Promise<string | null> {
    if (this.folder) {
      const p = join(this.folder, file);
      return existsSync(p) ? p : null;
    }
    const hub = this.hub!;
    if (this.commit) {
      const p = snapshotPath(hub.repoDir, this.commit, file);
      if (existsSync(p)) return p;
      if (existsSync(noExistPath(hub.repoDir, this.commit, file))) return null;
    }
    if (hub.offline) {
      if (!this.commit) {
        throw new HubError(`${hub.repoId} is not a folder and is not in the Hugging Face cache at ${hub.repoDir}, and offline mode is on`);
      }
      return null;
    }
    // Once a commit is known, ask for that commit so all files come from the same revision.
    const request = this.commit ? { ...hub, revision: this.commit } : hub;
    const got = await downloadFile(request, file);
    if (got.commit) this.commit ??= got.commit;
    return got.path;
  }

  /** Path of `file`; an error naming the checkpoint if it has none. */
  async path(file: string): Promise<string> {
    const p = await this.optionalPath(file);
    if (!p) {
      const where = this.folder ?? (this.hub!.offline ? `the cache (offline) for ${this.description}` : this.description);
      throw new HubError(`${file} not found in ${where}`);
    }
    return p;
  }
}
