/**
 * Weights an engine repacked or quantised at load, kept on disk so the next load reads them as they are: one
 * file per checkpoint shard and load format, in $VIPLLAVA_CACHE_DIR or ~/.cache/vipllava/packed, named by a
 * hash of the shard's path, size and mtime and the load options. A file is [8-byte header length][JSON
 * header][tensors at 64-byte-aligned offsets]; a missing, stale or damaged file is ignored and rewritten.
 * Writing a file removes those that can never be read again (an older version of the same shard, one an
 * older version of this library wrote for it, a shard that is gone, a temporary file a crashed write left),
 * so the folder does not grow with every change.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { DeviceTensor, LinearFormat } from '../backend/backend.js';

const VERSION = 2; // 2: the load options name the engine's layout (the format a kernel set chose)

/** What a cache file records of one tensor. */
export interface PackedEntry {
  offset: number;
  bytes: number;
  format: number;
  n: number;
  k: number;
  dims: number[];
  dtype: string;
}

/** An engine whose repacked weights can be saved and read back byte for byte. */
export interface PackedStore {
  /** How the engine lays out linear weights loaded as `dtype` right now (part of the cache key). */
  layoutOf(dtype: LinearFormat): string;
  /** The runtime layout of a weight it repacked, or null. */
  packedEntry(t: DeviceTensor): Omit<PackedEntry, 'offset'> | null;
  /** Writes `header` at 0 and each tensor's bytes at its offset. */
  savePacked(path: string, header: Uint8Array, tensors: readonly DeviceTensor[], offsets: readonly number[]): void;
  /** A tensor read from a cache file. */
  loadPacked(path: string, entry: PackedEntry): DeviceTensor;
}

export function isPackedStore(x: unknown): x is PackedStore {
  return typeof x === 'object' && x !== null && 'savePacked' in x && 'loadPacked' in x && 'packedEntry' in x && 'layoutOf' in x;
}

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
export function writeCache(store: PackedStore, path: string, shard: string, options: string, tensors: ReadonlyArray<[string, DeviceTensor]>): void {
  const entries: Record<string, PackedEntry> = {};
  const placed: Array<[DeviceTensor, PackedEntry]> = [];
  for (const [name, t] of tensors) {
    const e = store.packedEntry(t);
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
    store.savePacked(tmp, head, placed.map(([t]) => t), placed.map(([, e]) => e.offset));
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  pruneCache(path, header.source);
}
