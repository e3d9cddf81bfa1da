/**
 * PyTorch `.bin` checkpoints (torch.save's zip format: `<archive>/data.pkl`, a pickle of the state dict, and each
 * storage's bytes stored uncompressed at `<archive>/data/<key>`), read without running anything from the file.
 * The unpickler knows only what a tensor state dict needs — OrderedDict, torch's tensor and parameter rebuild
 * functions, the storage classes, `_codecs.encode` for byte strings — and refuses every other global with an
 * error naming it, so a pickle that would call os.system is never executed. Each tensor becomes a byte range of
 * the file, as a safetensors entry is, so the loader streams it the same way.
 */
import { WeightsError } from '../errors.js';
import type { ByteSource } from '../io/byte_source.js';

/** A tensor as a byte range of the file (the shape of a safetensors entry). */
export interface TensorRange {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** torch.save writes a zip: it starts with a local file header. */
export const isZip = (head: Uint8Array) => head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;

const STORAGES: Record<string, [string, number]> = {
  FloatStorage: ['F32', 4], HalfStorage: ['F16', 2], BFloat16Storage: ['BF16', 2], DoubleStorage: ['F64', 8],
  LongStorage: ['I64', 8], IntStorage: ['I32', 4], ShortStorage: ['I16', 2], CharStorage: ['I8', 1],
  ByteStorage: ['U8', 1], BoolStorage: ['BOOL', 1],
};

// -- the zip's central directory --------------------------------------------------------------------------

interface ZipEntry {
  name: string;
  method: number;
  size: number;
  localOffset: number;
}

const u16 = (b: Uint8Array, at: number) => b[at] | (b[at + 1] << 8);
const u32 = (b: Uint8Array, at: number) => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16)) + b[at + 3] * 2 ** 24;
const u64 = (b: Uint8Array, at: number) => u32(b, at) + u32(b, at + 4) * 2 ** 32;

async function zipEntries(source: ByteSource): Promise<Map<string, ZipEntry>> {
  const size = await source.size();
  const tailLength = Math.min(size, 22 + 65535);
  const tail = await source.read(size - tailLength, tailLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) if (u32(tail, i) === 0x06054b50) { eocd = i; break; }
  if (eocd < 0) throw new WeightsError(`${source.name}: no zip directory at its end (a truncated torch.save file?)`);
  let count = u16(tail, eocd + 10);
  let dirSize = u32(tail, eocd + 12);
  let dirOffset = u32(tail, eocd + 16);
  if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || u32(tail, locator) !== 0x07064b50) throw new WeightsError(`${source.name}: a zip64 directory without its locator`);
    const record = await source.read(u64(tail, locator + 8), 56);
    if (u32(record, 0) !== 0x06064b50) throw new WeightsError(`${source.name}: the zip64 directory record is not where its locator says`);
    [count, dirSize, dirOffset] = [u64(record, 32), u64(record, 40), u64(record, 48)];
  }
  if (dirOffset + dirSize > size) throw new WeightsError(`${source.name}: the zip directory runs past the end of the file (truncated?)`);
  const dir = await source.read(dirOffset, dirSize);
  const entries = new Map<string, ZipEntry>();
  for (let at = 0, i = 0; i < count; i++) {
    if (u32(dir, at) !== 0x02014b50) throw new WeightsError(`${source.name}: zip directory entry ${i} is damaged`);
    const [nameLength, extraLength, commentLength] = [u16(dir, at + 28), u16(dir, at + 30), u16(dir, at + 32)];
    const name = new TextDecoder().decode(dir.subarray(at + 46, at + 46 + nameLength));
    let size = u32(dir, at + 24);
    let compressed = u32(dir, at + 20);
    let localOffset = u32(dir, at + 42);
    // zip64: the fields that are all ones come, in this order, from the extra field 0x0001
    for (let x = at + 46 + nameLength; x < at + 46 + nameLength + extraLength; x += 4 + u16(dir, x + 2)) {
      if (u16(dir, x) !== 1) continue;
      let f = x + 4;
      if (size === 0xffffffff) (size = u64(dir, f)), (f += 8);
      if (compressed === 0xffffffff) (compressed = u64(dir, f)), (f += 8);
      if (localOffset === 0xffffffff) localOffset = u64(dir, f);
    }
    entries.set(name, { name, method: u16(dir, at + 10), size, localOffset });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Where an entry's bytes start (after its local header). */
async function dataOffset(source: ByteSource, e: ZipEntry): Promise<number> {
  if (e.method !== 0) throw new WeightsError(`${source.name}: ${e.name} is compressed; torch.save stores tensors uncompressed`);
  const header = await source.read(e.localOffset, 30);
  if (u32(header, 0) !== 0x04034b50) throw new WeightsError(`${source.name}: ${e.name}'s local header is damaged`);
  return e.localOffset + 30 + u16(header, 26) + u16(header, 28);
}

// -- the restricted unpickler -------------------------------------------------------------------------------

class Global {
  constructor(readonly path: string) {}
}
class StorageRef {
  constructor(readonly dtype: string, readonly itemSize: number, readonly key: string, readonly numel: number) {}
}
class TensorRef {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
}
const MARK = Symbol('mark');

/** The globals a state dict may name; anything else is refused. */
const ALLOWED = new Set(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_parameter', '_codecs.encode', ...Object.keys(STORAGES).map((s) => `torch.${s}`)]);

function call(fn: unknown, args: unknown[], where: string): unknown {
  if (!(fn instanceof Global)) throw new WeightsError(`${where}: the pickle calls something that is not a known function`);
  switch (fn.path) {
    case 'collections.OrderedDict':
      return new Map();
    case 'torch._utils._rebuild_tensor_v2': {
      const [storage, offset, shape, stride] = args as [StorageRef, number, number[], number[]];
      if (!(storage instanceof StorageRef)) throw new WeightsError(`${where}: a tensor without its storage`);
      return new TensorRef(storage, offset, shape, stride);
    }
    case 'torch._utils._rebuild_parameter':
      return args[0];
    case '_codecs.encode':
      return Uint8Array.from(String(args[0]), (c) => c.charCodeAt(0) & 0xff);
    default:
      throw new WeightsError(`${where}: the pickle calls ${fn.path}, which is not a function`);
  }
}

/** The pickle's value, every global checked against ALLOWED before it is named (nothing is ever executed). */
function unpickle(b: Uint8Array, where: string): unknown {
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const text = (from: number, n: number) => new TextDecoder().decode(b.subarray(from, from + n));
  const popMark = () => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) throw new WeightsError(`${where}: a pickle without its mark`);
    const items = stack.splice(at);
    return items.slice(1);
  };
  const refuse = (what: string): never => {
    throw new WeightsError(`${where}: the pickle names ${what}, which a tensor state dict never needs; refusing to load it (nothing from a checkpoint is run)`);
  };
  let i = 0;
  const line = () => {
    const end = b.indexOf(0x0a, i);
    const s = text(i, end - i);
    i = end + 1;
    return s;
  };
  for (;;) {
    if (i >= b.length) throw new WeightsError(`${where}: the pickle ends without its STOP`);
    const op = b[i++];
    switch (op) {
      case 0x80: i++; break; // PROTO
      case 0x95: i += 8; break; // FRAME
      case 0x2e: return stack.pop(); // STOP
      case 0x28: stack.push(MARK); break;
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4b: stack.push(b[i]); i += 1; break; // BININT1
      case 0x4d: stack.push(dv.getUint16(i, true)); i += 2; break; // BININT2
      case 0x4a: stack.push(dv.getInt32(i, true)); i += 4; break; // BININT
      case 0x8a: { // LONG1
        const n = b[i++];
        let v = 0n;
        for (let k = n - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[i + k]);
        if (n > 0 && b[i + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        i += n;
        stack.push(Number(v));
        break;
      }
      case 0x47: stack.push(dv.getFloat64(i, false)); i += 8; break; // BINFLOAT
      case 0x58: { const n = dv.getUint32(i, true); stack.push(text(i + 4, n)); i += 4 + n; break; } // BINUNICODE
      case 0x8c: { const n = b[i]; stack.push(text(i + 1, n)); i += 1 + n; break; } // SHORT_BINUNICODE
      case 0x55: { const n = b[i]; stack.push(text(i + 1, n)); i += 1 + n; break; } // SHORT_BINSTRING
      case 0x54: { const n = dv.getUint32(i, true); stack.push(text(i + 4, n)); i += 4 + n; break; } // BINSTRING
      case 0x43: { const n = b[i]; stack.push(b.slice(i + 1, i + 1 + n)); i += 1 + n; break; } // SHORT_BINBYTES
      case 0x42: { const n = dv.getUint32(i, true); stack.push(b.slice(i + 4, i + 4 + n)); i += 4 + n; break; } // BINBYTES
      case 0x71: memo.set(b[i], stack.at(-1)); i += 1; break; // BINPUT
      case 0x72: memo.set(dv.getUint32(i, true), stack.at(-1)); i += 4; break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, stack.at(-1)); break; // MEMOIZE
      case 0x68: stack.push(memo.get(b[i])); i += 1; break; // BINGET
      case 0x6a: stack.push(memo.get(dv.getUint32(i, true))); i += 4; break; // LONG_BINGET
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([stack.pop()]); break; // TUPLE1
      case 0x86: { const y = stack.pop(); stack.push([stack.pop(), y]); break; } // TUPLE2
      case 0x87: { const z = stack.pop(); const y = stack.pop(); stack.push([stack.pop(), y, z]); break; } // TUPLE3
      case 0x61: { const v = stack.pop(); (stack.at(-1) as unknown[]).push(v); break; } // APPEND
      case 0x65: { const vs = popMark(); (stack.at(-1) as unknown[]).push(...vs); break; } // APPENDS
      case 0x73: { const v = stack.pop(); const k = stack.pop(); (stack.at(-1) as Map<unknown, unknown>).set(k, v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const kv = popMark();
        const d = stack.at(-1) as Map<unknown, unknown>;
        for (let k = 0; k < kv.length; k += 2) d.set(kv[k], kv[k + 1]);
        break;
      }
      case 0x63: { // GLOBAL "module\nname\n"
        const path = `${line()}.${line()}`;
        if (!ALLOWED.has(path)) refuse(path);
        stack.push(new Global(path));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = stack.pop();
        const path = `${String(stack.pop())}.${String(name)}`;
        if (!ALLOWED.has(path)) refuse(path);
        stack.push(new Global(path));
        break;
      }
      case 0x52: { const args = stack.pop() as unknown[]; const fn = stack.pop(); stack.push(call(fn, args, where)); break; } // REDUCE
      case 0x62: stack.pop(); break; // BUILD: an OrderedDict's attributes (its _metadata), not needed
      case 0x51: { // BINPERSID: ('storage', storage class, key, location, numel)
        const pid = stack.pop() as unknown[];
        const cls = pid?.[1];
        if (!Array.isArray(pid) || pid[0] !== 'storage' || !(cls instanceof Global)) throw new WeightsError(`${where}: a persistent id that is not a storage`);
        const [dtype, itemSize] = STORAGES[cls.path.slice('torch.'.length)];
        stack.push(new StorageRef(dtype, itemSize, String(pid[2]), Number(pid[4])));
        break;
      }
      default:
        refuse(`opcode 0x${op.toString(16)} (${JSON.stringify(String.fromCharCode(op))}), which torch.save does not write for tensors`);
    }
  }
}

/** A torch.save zip's tensors as byte ranges of the file (contiguous tensors; others are refused by name). */
export async function torchBinEntries(source: ByteSource): Promise<Map<string, TensorRange>> {
  const zip = await zipEntries(source);
  const pkl = [...zip.values()].find((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (!pkl) throw new WeightsError(`${source.name}: a zip without data.pkl is not a torch.save checkpoint`);
  const prefix = pkl.name.slice(0, -'data.pkl'.length);
  const state = unpickle(await source.read(await dataOffset(source, pkl), pkl.size), source.name);
  if (!(state instanceof Map)) throw new WeightsError(`${source.name}: the pickle is not a state dict (a dict of tensors)`);
  const entries = new Map<string, TensorRange>();
  const starts = new Map<string, number>();
  for (const [name, t] of state) {
    if (typeof name !== 'string') throw new WeightsError(`${source.name}: a state dict key that is not a string`);
    if (!(t instanceof TensorRef)) continue; // not a tensor (a number, a nested dict): nothing to load
    const { storage, offset, shape, stride } = t;
    let expected = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (shape[d] !== 1 && stride[d] !== expected) throw new WeightsError(`${source.name}: tensor "${name}" is not contiguous (strides [${stride.join(', ')}] for shape [${shape.join(', ')}]); save it with .contiguous()`);
      expected *= shape[d];
    }
    if (offset + expected > storage.numel) throw new WeightsError(`${source.name}: tensor "${name}" runs past its storage`);
    const file = zip.get(`${prefix}data/${storage.key}`);
    if (!file) throw new WeightsError(`${source.name}: storage ${storage.key} of tensor "${name}" is missing from the archive`);
    if (file.size < storage.numel * storage.itemSize) throw new WeightsError(`${source.name}: storage ${storage.key} is shorter than its ${storage.numel} values`);
    if (!starts.has(storage.key)) starts.set(storage.key, await dataOffset(source, file));
    const begin = starts.get(storage.key)! + offset * storage.itemSize;
    entries.set(name, { name, dtype: storage.dtype, shape, begin, end: begin + expected * storage.itemSize });
  }
  return entries;
}
