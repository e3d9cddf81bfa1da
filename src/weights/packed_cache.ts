/**
 * Where an engine's repacked weights (bf16 panels, quantised blocks) are kept between loads, so the next load
 * reads them as they are. The loader asks by shard and key (the load options and the engine's layout); the
 * store decides where the bytes live: files in Node (packed_cache.node.ts), IndexedDB in a browser.
 */
import type { Backend, DeviceTensor, PackedEntry } from '../backend/backend.js';
import type { ByteSource } from '../io/byte_source.js';

/** The saved weights of one shard. */
export interface PackedShard {
  entries: Record<string, PackedEntry>;
  /** One weight's bytes, into the start of `into` when it is large enough. */
  read(entry: PackedEntry, into?: ArrayBuffer): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface PackedCache {
  /** The shard's weights saved under `key`, or null when there are none (or they are stale). */
  open(shard: ByteSource, key: string): Promise<PackedShard | null>;
  /** Saves the shard's repacked weights under `key`, taking each one's bytes from the engine in turn. */
  save(shard: ByteSource, key: string, backend: Backend, tensors: ReadonlyArray<[string, DeviceTensor]>): Promise<void>;
}
