/**
 * Writes tensors as safetensors shards of at most `maxShardBytes` (model.safetensors, or
 * model-0000i-of-0000n.safetensors with model.safetensors.index.json), each tensor read only when its shard
 * is written, so the model is never held in memory.
 */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { WeightsError } from '../errors.js';

/** One tensor of the output: its key, dtype (a safetensors name), shape and size, and where its bytes come from. */
export interface PlannedTensor {
  key: string;
  dtype: string;
  shape: number[];
  bytes: number;
  read(): Promise<Uint8Array>;
}

/** The shards' file names and the bytes of tensor data written. */
export async function writeShards(plan: readonly PlannedTensor[], outDir: string, maxShardBytes: number): Promise<{ shards: string[]; bytes: number }> {
  const groups: PlannedTensor[][] = [[]];
  let size = 0;
  for (const p of plan) {
    if (size > 0 && size + p.bytes > maxShardBytes) (groups.push([]), (size = 0));
    groups.at(-1)!.push(p);
    size += p.bytes;
  }
  const names = groups.length === 1 ? ['model.safetensors'] : groups.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(groups.length).padStart(5, '0')}.safetensors`);
  const weightMap: Record<string, string> = {};
  let total = 0;
  for (const [i, group] of groups.entries()) {
    total += await writeShard(join(outDir, names[i]), group);
    for (const p of group) weightMap[p.key] = names[i];
  }
  if (groups.length > 1) writeFileSync(join(outDir, 'model.safetensors.index.json'), `${JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2)}\n`);
  return { shards: names, bytes: total };
}

/** One safetensors file: the header (padded to 8 bytes), then each tensor's bytes. */
async function writeShard(path: string, group: readonly PlannedTensor[]): Promise<number> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const { key, dtype, shape, bytes } of group) {
    header[key] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const fd = openSync(path, 'w');
  try {
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    writeAll(fd, length);
    writeAll(fd, Buffer.from(json));
    for (const p of group) {
      const bytes = await p.read();
      if (bytes.length !== p.bytes) throw new WeightsError(`${path}: tensor "${p.key}" gave ${bytes.length} bytes, not the ${p.bytes} its header says`);
      writeAll(fd, bytes);
    }
  } finally {
    closeSync(fd);
  }
  return offset;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
}
