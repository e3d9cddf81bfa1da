/**
 * A checkpoint as a set of named files, each a ByteSource. In Node a name opens a local folder or the
 * Hugging Face cache, downloading what is missing (hub/, installed by index.node.ts); in other runtimes it is
 * a hub repository read over HTTP. Either way loaders ask for files by name and read them in ranges.
 */
import type { Json } from '../config/fields.js';
import { ConfigError, HubError, InputError } from '../errors.js';
import { env } from '../platform.js';
import { HttpSource, readText, type ByteSource } from './byte_source.js';
import type { OnProgress } from './progress.js';

export interface ResolveOptions {
  /** Branch, tag or commit on the hub (default "main"). */
  revision?: string;
  /** Hub cache folder (Node; default $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Hub address (default $HF_ENDPOINT or https://huggingface.co). */
  endpoint?: string;
  /** Access token (default $HF_TOKEN, else in Node the token file huggingface_hub saves at login). */
  token?: string;
  /** Never touch the network (default: on when $HF_HUB_OFFLINE is 1/true). */
  localFilesOnly?: boolean;
  onProgress?: OnProgress;
  /**
   * Where a browser keeps the byte ranges it fetched (the Cache API store of that name; default
   * "vipllava-weights"), keyed by URL, range and the file's ETag, so a second load reads none of them again;
   * false: no caching. Runtimes without the Cache API (Node) keep their hub cache folder instead.
   */
  browserCache?: string | false;
}

export interface CheckpointFiles {
  /** The checkpoint in messages: a folder, "org/name@revision", a URL. */
  readonly description: string;
  /** The local folder holding its files, when there is one. */
  readonly directory: string | null;
  /** A file, or null when the checkpoint has none by that name. */
  optionalFile(name: string): Promise<ByteSource | null>;
  /** A file; an error naming the checkpoint when it has none. */
  file(name: string): Promise<ByteSource>;
}

type Opener = (pathOrId: string, options: ResolveOptions) => CheckpointFiles;

export const REPO_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

/** A hub repository read over HTTP: each file its `resolve` URL, read by range requests. */
export class HttpCheckpoint implements CheckpointFiles {
  readonly directory = null;
  readonly description: string;
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly cacheName: string | null;

  constructor(repoId: string, options: ResolveOptions = {}) {
    if (!REPO_ID.test(repoId)) throw new HubError(`"${repoId}" is not a hub repository id`);
    const revision = options.revision ?? 'main';
    const endpoint = (options.endpoint ?? env('HF_ENDPOINT') ?? 'https://huggingface.co').replace(/\/+$/, '');
    this.base = `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/`;
    const token = options.token ?? env('HF_TOKEN');
    this.headers = token ? { authorization: `Bearer ${token}` } : {};
    this.description = `${repoId}@${revision}`;
    this.cacheName = options.browserCache === false ? null : (options.browserCache ?? 'vipllava-weights');
  }

  async optionalFile(name: string): Promise<ByteSource | null> {
    const source = new HttpSource(this.base + name.split('/').map(encodeURIComponent).join('/'), this.headers, `${this.description}/${name}`, this.cacheName);
    try {
      await source.size();
    } catch (e) {
      if (/HTTP 404/.test((e as Error).message)) return null;
      throw new HubError((e as Error).message);
    }
    return source;
  }

  async file(name: string): Promise<ByteSource> {
    const f = await this.optionalFile(name);
    if (!f) throw new HubError(`${name} not found in ${this.description}`);
    return f;
  }
}

let opener: Opener = (pathOrId, options) => new HttpCheckpoint(pathOrId, options);

/** How this runtime opens a checkpoint named by a string (the Node entry installs folders and the hub cache). */
export function setCheckpointOpener(open: Opener): void {
  opener = open;
}

/** A checkpoint's files from a name (folder, hub id) or as given. */
export function openCheckpoint(source: string | CheckpointFiles, options: ResolveOptions = {}): CheckpointFiles {
  if (typeof source === 'string' && source.length > 0) return opener(source, options);
  const files = source as Partial<CheckpointFiles> | null | undefined;
  if (typeof files === 'object' && files !== null && typeof files.file === 'function' && typeof files.optionalFile === 'function') return files as CheckpointFiles;
  throw new InputError(`a checkpoint is a folder, a hub id or CheckpointFiles, got ${source === '' ? 'an empty string' : source === null ? 'null' : typeof source}`);
}

/** A JSON file's object; errors name the file. */
export async function readJson(source: ByteSource): Promise<Json> {
  let text: string;
  try {
    text = await readText(source);
  } catch (e) {
    throw new ConfigError(`cannot read ${source.name}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${source.name} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${source.name}: expected a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  return value as Json;
}
