/**
 * Random-access bytes of one file, wherever it lives: weights and configs are read through this, so the core
 * reads a file on disk (io/file_source.node.ts), a `Blob` from a file picker or IndexedDB, or a URL by HTTP
 * range requests alike.
 */
import { WeightsError } from '../errors.js';

export interface ByteSource {
  /** What to call it in messages: a path, a URL, a file name. */
  readonly name: string;
  /** A local file path when the bytes are one (the packed-weight cache keys on it). */
  readonly path?: string;
  size(): Promise<number>;
  /**
   * `length` bytes from `offset`, into the start of `into` when it is large enough (else a buffer of their own).
   * A source that ends early is an error naming it.
   */
  read(offset: number, length: number, into?: ArrayBuffer): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** The view a read fills: the start of `into` when it fits, else new memory. */
export function readTarget(length: number, into?: ArrayBuffer): Uint8Array {
  return into && into.byteLength >= length ? new Uint8Array(into, 0, length) : new Uint8Array(length);
}

function cutShort(name: string, offset: number, length: number, size: number): never {
  throw new WeightsError(`${name}: cannot read ${length} bytes at ${offset}; it has ${size} (truncated?)`);
}

/** Bytes already in memory. */
export class MemorySource implements ByteSource {
  constructor(
    private readonly bytes: Uint8Array,
    readonly name = `${bytes.length} bytes in memory`,
  ) {}

  async size(): Promise<number> {
    return this.bytes.length;
  }

  async read(offset: number, length: number, into?: ArrayBuffer): Promise<Uint8Array> {
    if (offset + length > this.bytes.length) cutShort(this.name, offset, length, this.bytes.length);
    const out = readTarget(length, into);
    out.set(this.bytes.subarray(offset, offset + length));
    return out;
  }

  async close(): Promise<void> {}
}

/** A `Blob` (a `File` from a picker or a drop, a value from IndexedDB): slices are read on demand. */
export class BlobSource implements ByteSource {
  constructor(
    private readonly blob: Blob,
    readonly name = (blob as Blob & { name?: string }).name ?? `a ${blob.size}-byte Blob`,
  ) {}

  async size(): Promise<number> {
    return this.blob.size;
  }

  async read(offset: number, length: number, into?: ArrayBuffer): Promise<Uint8Array> {
    if (offset + length > this.blob.size) cutShort(this.name, offset, length, this.blob.size);
    const out = readTarget(length, into);
    out.set(new Uint8Array(await this.blob.slice(offset, offset + length).arrayBuffer()));
    return out;
  }

  async close(): Promise<void> {}
}

/** The part of the Cache API used here (the DOM's CacheStorage and Cache). */
interface CacheStore {
  match(key: string): Promise<Response | undefined>;
  put(key: string, response: Response): Promise<void>;
}
/** The Cache API where the runtime has one (browsers, in secure contexts), else null. */
const cacheStorage = () => (globalThis as { caches?: { open(name: string): Promise<CacheStore> } }).caches ?? null;

/**
 * A URL read with HTTP range requests (a hub `resolve` URL follows its redirect to the CDN). A server that
 * ignores Range sends the whole file once, which is then kept. With `cacheName` (and a Cache API, and an ETag from
 * the server, or a redirect to a content-addressed URL), each range fetched is kept in that Cache API store under
 * the URL, the range and that version, and read from there the next time: a changed file has another version, so
 * it is never read stale.
 */
export class HttpSource implements ByteSource {
  private whole: Uint8Array | null = null;
  private length: number | null = null;
  /** The file's version for cache keys (its ETag or content-addressed URL); null until size() asks. */
  private version: string | null = null;
  private store: Promise<CacheStore | null> | null = null;

  constructor(
    readonly url: string,
    private readonly headers: Record<string, string> = {},
    readonly name = url,
    private readonly cacheName: string | null = null,
  ) {}

  async size(): Promise<number> {
    if (this.length !== null) return this.length;
    const res = await this.fetch({ method: 'HEAD' });
    const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length'));
    if (!Number.isFinite(size)) throw new WeightsError(`${this.name}: the server did not report a size`);
    // the file's version: its ETag, else (a redirect to a content-addressed CDN URL, as the hub's LFS files) the
    // URL it was served from
    this.version = res.headers.get('etag') ?? res.headers.get('x-linked-etag') ?? (res.redirected ? res.url : '');
    return (this.length = size);
  }

  async read(offset: number, length: number, into?: ArrayBuffer): Promise<Uint8Array> {
    const out = readTarget(length, into);
    if (length === 0) return out;
    if (!this.whole) {
      const cached = await this.cached(offset, length);
      const hit = await cached?.match();
      if (hit) {
        out.set(hit);
        return out;
      }
      const res = await this.fetch({ headers: { range: `bytes=${offset}-${offset + length - 1}` } });
      const body = new Uint8Array(await res.arrayBuffer());
      if (res.status === 206) {
        if (body.length !== length) cutShort(this.name, offset, length, offset + body.length);
        out.set(body);
        await cached?.put(body);
        return out;
      }
      this.whole = body; // Range ignored: the body is the whole file
      this.length = body.length;
    }
    if (offset + length > this.whole.length) cutShort(this.name, offset, length, this.whole.length);
    out.set(this.whole.subarray(offset, offset + length));
    return out;
  }

  async close(): Promise<void> {
    this.whole = null;
  }

  /**
   * The cache entry of a range, where ranges are cached: match() gives its bytes (null when absent or of another
   * length), put() keeps them (a full or refused store only loses the caching).
   */
  private async cached(offset: number, length: number): Promise<{ match(): Promise<Uint8Array | null>; put(body: Uint8Array<ArrayBuffer>): Promise<void> } | null> {
    const store = await (this.store ??= this.openStore());
    if (!store || !this.version) return null;
    const key = `${this.url}${this.url.includes('?') ? '&' : '?'}vipllava-bytes=${offset}-${offset + length - 1}&version=${encodeURIComponent(this.version)}`;
    return {
      match: async () => {
        const res = await store.match(key);
        const body = res ? new Uint8Array(await res.arrayBuffer()) : null;
        return body && body.length === length ? body : null;
      },
      put: async (body) => {
        try {
          await store.put(key, new Response(body));
        } catch {
          // quota or a refused store: the bytes are read from the network next time
        }
      },
    };
  }

  /** The Cache API store, opened once per source (null without cacheName or a Cache API, or where it refuses). */
  private async openStore(): Promise<CacheStore | null> {
    const storage = cacheStorage();
    if (!this.cacheName || !storage) return null;
    if (this.version === null) await this.size();
    try {
      return await storage.open(this.cacheName);
    } catch {
      return null; // no Cache API here after all (an opaque origin, say)
    }
  }

  private async fetch(init: { method?: string; headers?: Record<string, string> }): Promise<Response> {
    let res: Response;
    try {
      // past the HTTP cache: a browser's partial entries for other ranges of the file, revalidated, can come back
      // in place of the range asked for; ranges are kept in the Cache API instead
      const request: RequestInit & { cache: 'no-store' } = { method: init.method ?? 'GET', headers: { ...this.headers, ...init.headers }, cache: 'no-store' };
      res = await fetch(this.url, request);
    } catch (e) {
      throw new WeightsError(`cannot reach ${this.name}: ${(e as Error).message}`);
    }
    if (!res.ok) throw new WeightsError(`${this.name}: HTTP ${res.status}`);
    return res;
  }
}

/** The whole source as UTF-8 text (the source is closed afterwards; a later read opens it again). */
export async function readText(source: ByteSource): Promise<string> {
  try {
    return new TextDecoder().decode(await source.read(0, await source.size()));
  } finally {
    await source.close();
  }
}
