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

/**
 * A URL read with HTTP range requests (a hub `resolve` URL follows its redirect to the CDN). A server that
 * ignores Range sends the whole file once, which is then kept.
 */
export class HttpSource implements ByteSource {
  private whole: Uint8Array | null = null;
  private length: number | null = null;

  constructor(
    readonly url: string,
    private readonly headers: Record<string, string> = {},
    readonly name = url,
  ) {}

  async size(): Promise<number> {
    if (this.length !== null) return this.length;
    const res = await this.fetch({ method: 'HEAD' });
    const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length'));
    if (!Number.isFinite(size)) throw new WeightsError(`${this.name}: the server did not report a size`);
    return (this.length = size);
  }

  async read(offset: number, length: number, into?: ArrayBuffer): Promise<Uint8Array> {
    const out = readTarget(length, into);
    if (length === 0) return out;
    if (!this.whole) {
      const res = await this.fetch({ headers: { range: `bytes=${offset}-${offset + length - 1}` } });
      const body = new Uint8Array(await res.arrayBuffer());
      if (res.status === 206) {
        if (body.length !== length) cutShort(this.name, offset, length, offset + body.length);
        out.set(body);
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

  private async fetch(init: { method?: string; headers?: Record<string, string> }): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.url, { method: init.method ?? 'GET', headers: { ...this.headers, ...init.headers } });
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
