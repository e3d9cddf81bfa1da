import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { WeightsError } from '../../src/errors.js';
import { SafetensorsFile } from '../../src/weights/safetensors.js';
import { FileSource } from '../../src/io/file_source.node.js';
import { encodeSafetensors, f32Tensor } from '../helpers/safetensors_writer.js';
import { tempDir } from '../helpers/checkpoints.js';

const dir = tempDir('st');
let n = 0;
function file(bytes: Uint8Array | Buffer): string {
  const p = join(dir, `f${n++}.safetensors`);
  writeFileSync(p, bytes);
  return p;
}

function headerOnly(header: unknown, dataBytes = 0): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + dataBytes);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  return out;
}

async function rejects(bytes: Uint8Array, pattern: RegExp) {
  const p = file(bytes);
  await assert.rejects(SafetensorsFile.open(new FileSource(p)), (e: unknown) => {
    assert.ok(e instanceof WeightsError, String(e));
    assert.match(e.message, pattern);
    assert.ok(e.message.includes('.safetensors'), 'names the file');
    return true;
  });
}

describe('safetensors reader', () => {
  test('reads F32, F16 and BF16 tensors', async () => {
    const p = file(encodeSafetensors({
      a: f32Tensor([2, 2], [1, 2, 3, 4]),
      h: { dtype: 'F16', shape: [3], bytes: new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3800]).buffer) },
      b: { dtype: 'BF16', shape: [1, 2], bytes: new Uint8Array(new Uint16Array([0x3f80, 0x4040]).buffer) },
      ids: { dtype: 'I64', shape: [2], bytes: new Uint8Array(16) },
    }));
    const f = await SafetensorsFile.open(new FileSource(p));
    assert.deepEqual([...f.entries.keys()], ['a', 'h', 'b', 'ids']);
    assert.equal(f.metadata.format, 'pt');
    const a = await f.read('a');
    assert.equal(a.dtype, 'float32');
    assert.deepEqual(a.tolist(), [[1, 2], [3, 4]]);
    assert.deepEqual(Array.from((await f.read('h')).toFloat32()), [1, -2, 0.5]);
    assert.deepEqual((await f.read('b')).tolist(), [[1, 3]]);
    await assert.rejects(f.read('ids'), /tensor "ids" has dtype I64; weights must be F32, F16 or BF16/);
    await assert.rejects(f.read('nope'), /no tensor "nope"/);
    await f.close();
  });

  test('a file too short for the header length', () => rejects(new Uint8Array(5), /too short for a safetensors header/));
  test('an absurd header length', async () => {
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(1n << 40n, 0);
    await rejects(b, /header length 1099511627776 is absurd/);
  });
  test('a header running past the end', async () => {
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(100n, 0);
    await rejects(b, /header length 100 runs past the end of the 16-byte file/);
  });
  test('a header that is not JSON', async () => {
    const b = Buffer.alloc(12);
    b.writeBigUInt64LE(4n, 0);
    b.write('{{{{', 8);
    await rejects(b, /header is not valid JSON/);
  });
  test('offsets past the end (truncated file)', async () => {
    const full = encodeSafetensors({ w: f32Tensor([4], [1, 2, 3, 4]) });
    await rejects(full.subarray(0, full.length - 4), /tensor "w" ends at byte 16 but the data section is only 12 bytes \(truncated file\?\)/);
  });
  test('an unknown dtype', () => rejects(headerOnly({ w: { dtype: 'F13', shape: [1], data_offsets: [0, 2] } }, 2), /tensor "w" has unknown dtype "F13"/));
  test('a byte count that does not match the shape', () => rejects(headerOnly({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /tensor "w" has 8 bytes but shape \[3\] of F32 needs 12/));
  test('invalid offsets', () => rejects(headerOnly({ w: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, 8), /tensor "w" has invalid data_offsets \[8,4\]/));
  test('invalid shape', () => rejects(headerOnly({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /tensor "w" has invalid shape \[-1\]/));
  test('overlapping tensors', () => rejects(headerOnly({
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
  }, 12), /tensors "a" and "b" overlap/));
  test('a missing file', async () => {
    await assert.rejects(SafetensorsFile.open(new FileSource(join(dir, 'absent.safetensors'))), /cannot open .*absent\.safetensors/);
  });
});
