/** A file on disk as a ByteSource (Node): opened on first read, read with positioned reads. */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { WeightsError } from '../errors.js';
import { readTarget, type ByteSource } from './byte_source.js';

export class FileSource implements ByteSource {
  private handle: Promise<FileHandle> | null = null;

  constructor(readonly path: string) {}

  get name(): string {
    return this.path;
  }

  private fh(): Promise<FileHandle> {
    this.handle ??= open(this.path, 'r').catch((e: Error) => {
      this.handle = null;
      throw new WeightsError(`cannot open ${this.path}: ${e.message}`);
    });
    return this.handle;
  }

  async size(): Promise<number> {
    try {
      return (await stat(this.path)).size;
    } catch (e) {
      throw new WeightsError(`cannot open ${this.path}: ${(e as Error).message}`);
    }
  }

  async read(offset: number, length: number, into?: ArrayBuffer): Promise<Uint8Array> {
    const fh = await this.fh();
    const out = readTarget(length, into);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(out, done, length - done, offset + done);
      if (bytesRead === 0) throw new WeightsError(`${this.path}: cannot read ${length} bytes at ${offset}; the file ends first (truncated?)`);
      done += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    if (h) await (await h).close();
  }
}
