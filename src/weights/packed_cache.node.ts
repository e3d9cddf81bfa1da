/**
 * The packed-weight cache on disk (Node): weights an engine repacked or quantised at load, kept so the next
 * load reads them as they are: one
 * file per checkpoint shard and load format, in $VIPLLAVA_CACHE_DIR or ~/.cache/vipllava/packed, named by a
 * hash of the shard's path, size and mtime and the load options. A file is [8-byte header length][JSON
 * header][tensors at 64-byte-aligned offsets]; a missing, stale or damaged file is ignored and rewritten.
 * Writing a file removes those that can never be read again (an older version of the same shard, one an
 * older version of this library wrote for it, a shard that is gone, a temporary file a crashed write left),
 * so the folder does not grow with every change.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Backend, DeviceTensor, PackedEntry as EnginePackedEntry } from '../backend/backend.js';
import type { ByteSource } from '../io/byte_source.js';
import { FileSource } from '../io/file_source.node.js';
import { warn } from '../platform.js';
import type { PackedCache, PackedShard } from './packed_cache.js';

const VERSION = 2; // 2: the load options name the engine's layout (the format a kernel set chose)

/** What a cache file records of one tensor: the engine's entry and where its bytes start. */
export type PackedEntry = EnginePackedEntry & { offset: number };

interface Header {
  version: number;
  source: { path: string; size: number; mtimeMs: number; options: string };
  tensors: Record<string, PackedEntry>;
}

export function cacheDir(): string {
  return process.env.VIPLLAVA_CACHE_DIR ?? join(homedir(), '.cache', 'vipllava', 'packed');
}

function sourceOf(shard: string, options: string): Header['source'] {
  const path = realpathSync(shard);
  const st = statSync(path);
  return { path, size: st.size, mtimeMs: st.mtimeMs, options };
}

/** The cache file for a shard loaded with `options` (e.g. "q8_0"). */
export function cachePath(shard: string, options: string): string {
  const src = sourceOf(shard, options);
  const key = createHash('sha256').update(JSON.stringify({ v: VERSION, ...src })).digest('hex').slice(0, 24);
  return join(cacheDir(), `${key}.vpk`);
}

/** The header of a cache file, or null when it is missing or unreadable. */
function readHeader(path: string): Header | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const len = Buffer.alloc(8);
    if (readSync(fd, len, 0, 8, 0) !== 8) return null;
    const n = Number(len.readBigUInt64LE());
    if (n <= 0 || n > 64 << 20) return null;
    const json = Buffer.alloc(n);
    if (readSync(fd, json, 0, n, 8) !== n) return null;
    return JSON.parse(json.toString('utf8')) as Header;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** The entries of a valid cache file for this shard and options, or null. */
export function readCache(path: string, shard: string, options: string): Record<string, PackedEntry> | null {
  const header = readHeader(path);
  if (!header || header.version !== VERSION || JSON.stringify(header.source) !== JSON.stringify(sourceOf(shard, options))) return null;
  const size = statSync(path).size;
  if (Object.values(header.tensors).some((e) => e.offset + e.bytes > size)) return null;
  return header.tensors;
}

/** Removes the files other than `keep` that no load can use again (see the module comment). */
function pruneCache(keep: string, source: Header['source']): void {
  const hour = 3600e3;
  for (const name of readdirSync(cacheDir())) {
    const file = join(cacheDir(), name);
    if (file === keep) continue;
    try {
      if (name.endsWith('.partial')) {
        if (Date.now() - statSync(file).mtimeMs > hour) rmSync(file, { force: true });
        continue;
      }
      if (!name.endsWith('.vpk')) continue;
      const header = readHeader(file);
      if (!header) continue; // damaged: rewritten by its own shard's next load
      const src = header.source;
      const older = src.path === source.path && (src.options === source.options || header.version !== VERSION);
      if (older || !existsSync(src.path)) rmSync(file, { force: true });
    } catch {
      // another process removed it first
    }
  }
}

/** Writes the cache file for a shard (through a temporary name, so readers never see half a file). */
export function writeCache(backend: Backend, path: string, shard: string, options: string, tensors: ReadonlyArray<[string, DeviceTensor]>): void {
  const entries: Record<string, PackedEntry> = {};
  const placed: Array<[DeviceTensor, PackedEntry]> = [];
  for (const [name, t] of tensors) {
    const e = backend.packedEntry?.(t);
    if (e) placed.push([t, (entries[name] = { ...e, offset: 0 })]);
  }
  if (placed.length === 0) return;
  const header: Header = { version: VERSION, source: sourceOf(shard, options), tensors: entries };
  // Offsets depend on the header's length, which depends on the offsets' digits: settle it in two passes.
  let start = 0;
  for (let pass = 0; pass < 2; pass++) {
    let at = start;
    for (const [, e] of placed) {
      e.offset = at;
      at = Math.ceil((at + e.bytes) / 64) * 64;
    }
    start = Math.ceil((8 + Buffer.byteLength(JSON.stringify(header)) + 16) / 64) * 64;
  }
  const json = Buffer.from(JSON.stringify(header));
  if (8 + json.length > start) throw new Error('packed cache header outgrew its space');
  const head = Buffer.alloc(8 + json.length);
  head.writeBigUInt64LE(BigInt(json.length));
  json.copy(head, 8);
  mkdirSync(cacheDir(), { recursive: true });
  const tmp = `${path}.${process.pid}.partial`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeAll(fd, head, 0);
      for (const [t, e] of placed) writeAll(fd, backend.exportPacked!(t), e.offset); // from engine memory, one tensor at a time
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  pruneCache(path, header.source);
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

let warnedWrite = false;

/** The cache in $VIPLLAVA_CACHE_DIR or ~/.cache/vipllava/packed, for shards that are local files. */
export const diskPackedCache: PackedCache = {
  async open(shard: ByteSource, key: string): Promise<PackedShard | null> {
    if (!shard.path) return null;
    const file = cachePath(shard.path, key);
    const entries = readCache(file, shard.path, key);
    if (!entries) return null;
    const source = new FileSource(file);
    return {
      entries,
      read: (e, into) => source.read((e as PackedEntry).offset, e.bytes, into),
      close: () => source.close(),
    };
  },

  async save(shard: ByteSource, key: string, backend: Backend, tensors: ReadonlyArray<[string, DeviceTensor]>): Promise<void> {
    if (!shard.path || !backend.exportPacked) return;
    const file = cachePath(shard.path, key);
    try {
      writeCache(backend, file, shard.path, key, tensors);
    } catch (e) {
      if (!warnedWrite) warn(`could not write the packed-weight cache ${file}: ${(e as Error).message}`, 'VIPLLAVA_CACHE');
      warnedWrite = true;
    }
  },
};
