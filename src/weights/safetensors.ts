/**
 * A safetensors reader (and, through torch_bin.ts, PyTorch .bin files as the same entries): an 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the tensor bytes, with
 * offsets relative to the end of the header. Every problem is reported with the file and tensor at fault.
 */
import { WeightsError } from '../errors.js';
import type { ByteSource } from '../io/byte_source.js';
import { Tensor } from '../tensor/tensor.js';
import type { FloatDtype } from '../vocabulary.js';
import { isZip, torchBinEntries } from './torch_bin.js';

/** Element sizes of every dtype the format defines. Only F32, F16 and BF16 can be read as weights. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1, F8_E8M0: 1, F4: 1, F6_E2M3: 1, F6_E3M2: 1, E8M0: 1,
};
const READABLE: Record<string, FloatDtype> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
/** A header beyond this is not a model checkpoint (the format's own reader uses 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export class SafetensorsFile {
  private constructor(
    readonly source: ByteSource,
    readonly entries: Map<string, SafetensorsEntry>,
    readonly metadata: Record<string, string>,
  ) {}

  /**
   * Reads the header of a safetensors file, or the state dict of a PyTorch .bin (torch.save's zip, read by the
   * restricted unpickler in torch_bin.ts); the tensors are read on demand either way.
   */
  static async open(source: ByteSource): Promise<SafetensorsFile> {
    try {
      if ((await source.size()) >= 4 && isZip(await source.read(0, 4))) return new SafetensorsFile(source, await torchBinEntries(source), { format: 'pt' });
      if (/\.bin$/.test(source.name)) throw new WeightsError(`${source.name}: not a torch.save zip archive (files saved by PyTorch before 1.6 are not read; load and save it again with a current torch)`);
      const { entries, metadata } = await readHeader(source);
      return new SafetensorsFile(source, entries, metadata);
    } catch (e) {
      await source.close();
      throw e;
    }
  }

  /** The file in messages (its path or URL). */
  get path(): string {
    return this.source.name;
  }

  /**
   * Reads one tensor (float32/float16/bfloat16) into memory of its own, or into the start of `scratch` when
   * it is large enough (the tensor then views it until the next read).
   */
  async read(name: string, scratch?: ArrayBuffer): Promise<Tensor> {
    const e = this.entry(name);
    const dtype = this.weightDtype(e);
    const bytes = await this.readBytes(name, scratch);
    const data = dtype === 'float32' ? new Float32Array(bytes.buffer, 0, bytes.length / 4) : new Uint16Array(bytes.buffer, 0, bytes.length / 2);
    return new Tensor(dtype, data, e.shape);
  }

  /** The dtype a tensor reads as a weight; an error naming it unless it is F32, F16 or BF16. */
  weightDtype(e: SafetensorsEntry): FloatDtype {
    const dtype = READABLE[e.dtype];
    if (!dtype) throw new WeightsError(`${this.path}: tensor "${e.name}" has dtype ${e.dtype}; weights must be F32, F16 or BF16`);
    return dtype;
  }

  /** The raw little-endian bytes of a tensor of any dtype, in a buffer of their own (or the start of `scratch`). */
  async readBytes(name: string, scratch?: ArrayBuffer): Promise<Uint8Array> {
    const e = this.entry(name);
    try {
      return await this.source.read(e.begin, e.end - e.begin, scratch);
    } catch (err) {
      throw new WeightsError(`${this.path}: tensor "${name}" is cut short (file truncated?): ${(err as Error).message}`);
    }
  }

  private entry(name: string): SafetensorsEntry {
    const e = this.entries.get(name);
    if (!e) throw new WeightsError(`${this.path}: no tensor "${name}"`);
    return e;
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}

/** The last part of a path or URL. */
export const baseName = (name: string) => name.split(/[\\/]/).pop() ?? name;

async function readHeader(source: ByteSource) {
  const path = source.name;
  const file = baseName(path);
  const size = await source.size();
  if (size < 8) throw new WeightsError(`${path}: file is ${size} bytes, too short for a safetensors header`);
  const lenBytes = await source.read(0, 8);
  const headerLen = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) {
    throw new WeightsError(`${path}: header length ${headerLen} is absurd (not a safetensors file?)`);
  }
  const n = Number(headerLen);
  if (8 + n > size) throw new WeightsError(`${path}: header length ${n} runs past the end of the ${size}-byte file (truncated?)`);
  const headerBytes = await source.read(8, n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(headerBytes));
  } catch (e) {
    throw new WeightsError(`${path}: header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new WeightsError(`${path}: header is not a JSON object`);
  }
  const dataStart = 8 + n;
  const dataSize = size - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const bad = (what: string): never => {
      throw new WeightsError(`${file}: tensor "${name}" ${what}`);
    };
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== 'object' || info === null) bad('has no description in the header');
    const itemSize = DTYPE_BYTES[info.dtype as string];
    if (typeof info.dtype !== 'string' || itemSize === undefined) bad(`has unknown dtype ${JSON.stringify(info.dtype)}`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) bad(`has invalid shape ${JSON.stringify(shape)}`);
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[0] > offs[1]) {
      bad(`has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [b, e] = offs as [number, number];
    if (e > dataSize) bad(`ends at byte ${e} but the data section is only ${dataSize} bytes (truncated file?)`);
    const count = (shape as number[]).reduce((a, d) => a * d, 1);
    if ((e - b) !== count * itemSize) bad(`has ${e - b} bytes but shape [${(shape as number[]).join(', ')}] of ${info.dtype} needs ${count * itemSize}`);
    entries.set(name, { name, dtype: info.dtype as string, shape: shape as number[], begin: dataStart + b, end: dataStart + e });
  }
  const sorted = [...entries.values()].sort((x, y) => x.begin - y.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new WeightsError(`${file}: tensors "${sorted[i - 1].name}" and "${sorted[i].name}" overlap`);
    }
  }
  return { entries, metadata };
}
