/**
 * The WebGPU engine: every op a WGSL compute shader (one file per op family), recorded into one command encoder
 * that is submitted only when something waits. Browser-safe: it is handed a GPUDevice (from Dawn in Node,
 * navigator.gpu in a browser). Activations are f32; weights stay f32, float16 or bfloat16 (converted in the
 * shaders, f32 compute), and linear weights may be Q8_0 / Q4_0 blocks (quantised on the host as the native engine
 * quantises them, dequantised in the GEMV/GEMM); the KV cache may be float16 (rounded to nearest even as the
 * reference rounds it).
 */
import { DeviceTensor, PositionInputs } from '../backend.js';
import type { AttentionOptions, Backend, HostPositionInputs } from '../backend.js';
import type { Tensor } from '../../tensor/tensor.js';
import { InputError, VipLlavaError } from '../../errors.js';
import { ACTIVATIONS, type Activation, type KVDtype, type WeightFormat } from '../../vocabulary.js';
import { bfloat16ToFloat32, halfToFloat32 } from '../../tensor/float16.js';
import { patchGrid, product, ropeInputs, writeAtSpan } from '../shapes.js';
import { Recorder, Storage } from './recorder.js';
import { storedBytes, type GpuDtype } from './wgsl.js';
import * as ew from './elementwise.js';
import * as lay from './layout.js';
import { linear, type WeightDtype } from './linear.js';
import { packBlocks, quantLayout, unpackBlocks } from './quantized.js';
import { dequantize, isQuantized, quantize, type QuantDtype } from '../../weights/quantize.js';
import { layerNorm, rmsNorm } from './norms.js';
import { cosSinTable, rope } from './rope.js';
import { attention, MAX_HEAD_DIM } from './attention.js';
import { fmaRate, readRate } from './probes.js';

class GpuTensor extends DeviceTensor {
  constructor(
    readonly backend: WebGPUBackend,
    readonly storage: Storage,
    readonly dims: readonly number[],
    readonly dtype: WeightDtype,
  ) {
    super();
  }
  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }
}

/**
 * A weight larger than the GPU's largest storage binding (the 7B's fp16 embedding and lm_head, 262 MB, against a
 * browser's or llvmpipe's 128 MiB): its rows in several buffers, each a [rows, ...] tensor, in order. Only linear
 * (as the weight) and embedding (as the table) read it; read() and release() take it whole.
 */
class SplitTensor extends DeviceTensor {
  constructor(
    readonly backend: WebGPUBackend,
    readonly parts: readonly GpuTensor[],
    readonly dims: readonly number[],
    readonly dtype: WeightDtype,
  ) {
    super();
  }

  /** Each part with its first row. */
  get spans(): Array<{ part: GpuTensor; first: number }> {
    let first = 0;
    return this.parts.map((part) => ({ part, first: (first += part.dims[0]) - part.dims[0] }));
  }
}

/** A tensor of one of the float dtypes (not a quantised weight). */
type FloatTensor = GpuTensor & { readonly dtype: GpuDtype };

/** A forward's cos/sin table and key mask, uploaded once for all its layers (freed with the object). */
class GpuPositionInputs extends PositionInputs {
  cosSin: Storage | null = null;
  keyMask: Storage | null = null;

  override release(): void {
    (this.backend as WebGPUBackend).releasePositions(this);
  }
}

export interface WebGPUBackendOptions {
  /** What describe() says about the adapter (its backend and name). */
  adapterLabel?: string;
  /** Bytes of one weight buffer, beyond which a weight is split by rows (default: the device's largest storage binding). */
  maxWeightBuffer?: number;
}

export class WebGPUBackend implements Backend {
  readonly name = 'webgpu';
  readonly copiesOnUpload = true;
  readonly recorder: Recorder;
  private scopes: Array<Set<GpuTensor> | null> = [];
  private readonly dummy: Storage;
  private readonly freed: FinalizationRegistry<Storage>;

  constructor(
    readonly device: GPUDevice,
    readonly options: WebGPUBackendOptions = {},
  ) {
    this.recorder = new Recorder(device);
    this.dummy = this.recorder.allocate(4);
    this.freed = new FinalizationRegistry((s) => this.recorder.release(s));
  }

  describe(): string {
    const r = this.recorder;
    const extras = `${r.subgroups32 ? 'subgroup reductions, ' : ''}${r.subgroupMatrix ? 'f16 subgroup-matrix GEMM, ' : ''}`;
    return `webgpu (${this.options.adapterLabel ?? 'adapter'}; WGSL kernels, ${extras}f32 compute)`;
  }

  check(needs: Parameters<Backend['check']>[0]): void {
    for (const { name, format } of needs.parameters) {
      const d = format.storage;
      if (isQuantized(d) && !format.linear) throw new VipLlavaError(`backend "${this.name}" quantises only linear weights, not ${name}`);
    }
    for (const a of needs.activations) {
      if (!ACTIVATIONS.includes(a)) throw new VipLlavaError(`backend "${this.name}" has no activation "${a}"`);
    }
  }

  /**
   * This GPU's limits as measured now by the engine's own probes: f32 FMA GFLOP/s and read GB/s (GPU timestamps
   * where the device has them; else wall time around a submission, which includes the submission's cost).
   */
  async limits(scale = 1): Promise<{ fp32: number; readGBs: number }> {
    const groups = Math.max(64, Math.round(16384 * scale));
    const bytes = Math.min(Math.round(1024 * 2 ** 20 * scale) & ~15, this.device.limits.maxStorageBufferBindingSize) || 16;
    const scratch = this.recorder.allocate(4 * groups * 64);
    const src = this.recorder.allocate(bytes);
    try {
      const fp32 = await fmaRate(this.recorder, scratch, groups, Math.max(16, Math.round(1024 * scale)));
      const read = await readRate(this.recorder, src, scratch, bytes, groups);
      return { fp32: fp32 / 1e9, readGBs: read / 1e9 };
    } finally {
      this.recorder.release(scratch);
      this.recorder.release(src);
    }
  }

  // -- tensors and memory ---------------------------------------------------------------------------------
  private t(x: DeviceTensor): GpuTensor {
    if (x instanceof SplitTensor && x.backend === this) {
      throw new VipLlavaError(`a weight [${x.dims.join(', ')}] split over ${x.parts.length} buffers (it exceeds this GPU's largest storage binding) goes only into linear, as the weight, and embedding`);
    }
    if (!(x instanceof GpuTensor) || x.backend !== this) {
      throw new VipLlavaError(`a tensor of another backend instance ("${x.backend.name}") was passed to this "${this.name}" backend`);
    }
    return x;
  }

  /** A new tensor of dims and dtype (contents undefined until written), in the innermost tidy() scope. */
  private make(dims: readonly number[], dtype: GpuDtype = 'float32'): FloatTensor {
    const t = new GpuTensor(this, this.recorder.allocate(storedBytes(dtype, product(dims))), [...dims], dtype) as FloatTensor;
    this.adopt(t);
    return t;
  }

  private adopt(t: GpuTensor): void {
    const scope = this.scopes.at(-1);
    if (scope) scope.add(t);
    else if (scope === undefined) this.freed.register(t, t.storage, t);
  }

  /** x as a tensor of one of the float dtypes (quantised weights go only into linear). */
  private float(x: DeviceTensor, what: string): FloatTensor {
    const t = this.t(x);
    if (isQuantized(t.dtype)) throw new VipLlavaError(`${what}: a ${t.dtype} tensor is a linear layer's weight; only linear reads it`);
    return t as FloatTensor;
  }

  /** An f32 view of x: x itself, or (float16/bfloat16 weights) a widened copy. */
  private f32(x: DeviceTensor): FloatTensor {
    const t = this.float(x, 'an op');
    if (t.dtype === 'float32') return t;
    const out = this.make(t.dims);
    lay.widen(this.recorder, out.buffer, { buffer: t.buffer, dtype: t.dtype }, t.size);
    return out;
  }

  private weight(x: DeviceTensor, what = 'an op'): { buffer: GPUBuffer; dtype: GpuDtype } {
    const t = this.float(x, what);
    return { buffer: t.buffer, dtype: t.dtype };
  }

  upload(t: Tensor, format?: WeightFormat): DeviceTensor {
    if (t.dtype !== 'float32' && t.dtype !== 'float16' && t.dtype !== 'bfloat16') {
      throw new VipLlavaError(`backend "${this.name}" cannot upload a ${t.dtype} tensor as a weight`);
    }
    const storage = format?.storage ?? t.dtype;
    if (isQuantized(storage) && t.dims.length < 2) throw new VipLlavaError(`backend "${this.name}" quantises matrices, not a tensor of dims [${t.dims.join(', ')}]`);
    const n = t.dims[0] ?? 1;
    const k = t.size / n;
    const bytes = (rows: number) => (isQuantized(storage) ? quantLayout(storage, rows, k).bytes : storedBytes(storage, rows * k));
    const limit = this.weightBufferBytes();
    return this.persistent(() => {
      if (t.dims.length < 2 || bytes(n) <= limit) return this.uploadRows(t, storage, 0, n);
      // rows per buffer: the weight in as few buffers of equal rows as fit
      let rows = Math.max(1, Math.floor(n / Math.ceil(bytes(n) / limit)));
      while (rows > 1 && bytes(rows) > limit) rows--;
      if (bytes(rows) > limit) throw new VipLlavaError(`a row of the weight [${t.dims.join(', ')}] exceeds this GPU's largest storage binding (${limit} bytes)`);
      const parts: GpuTensor[] = [];
      for (let first = 0; first < n; first += rows) parts.push(this.uploadRows(t, storage, first, Math.min(rows, n - first)));
      return new SplitTensor(this, parts, [...t.dims], storage);
    });
  }

  /** The most bytes one weight buffer holds: the option, else the device's largest storage binding and buffer. */
  private weightBufferBytes(): number {
    const l = this.device.limits;
    return Math.min(this.options.maxWeightBuffer ?? Infinity, l.maxStorageBufferBindingSize, l.maxBufferSize);
  }

  /**
   * Rows [first, first + rows) of a weight as a tensor [rows, ...]: floats as stored, or a linear weight quantised
   * as the matrix [rows, K] that linear multiplies by (K the product of the other dims, as the patch embedding's
   * [hidden, 3, p, p] is), in blocks along K (quantized.ts has the layout).
   */
  private uploadRows(t: Tensor, storage: WeightDtype, first: number, rows: number): GpuTensor {
    const n = t.dims[0] ?? 1;
    const k = t.size / n;
    const dims = t.dims.length === 0 ? [] : [rows, ...t.dims.slice(1)];
    const span = <T extends Float32Array | Uint16Array>(a: T) => (rows === n ? a : (a.subarray(first * k, (first + rows) * k) as T));
    if (isQuantized(storage)) {
      const blocks = packBlocks(quantize(span(t.toFloat32()), rows, k, storage));
      const out = new GpuTensor(this, this.recorder.allocate(blocks.byteLength), dims, storage);
      this.adopt(out);
      this.recorder.write(out.storage, blocks);
      return out;
    }
    const out = this.make(dims, storage);
    this.recorder.write(out.storage, storage === 'float32' ? span(t.toFloat32()) : span(t.toHalf(storage).data as Uint16Array));
    return out;
  }

  fromHost(data: Float32Array, dims: readonly number[]): DeviceTensor {
    if (data.length !== product(dims)) throw new InputError(`fromHost: ${data.length} values do not fill dims [${dims.join(', ')}]`);
    const out = this.make(dims);
    this.recorder.write(out.storage, data);
    return out;
  }

  zeros(dims: readonly number[], dtype: KVDtype = 'float32'): DeviceTensor {
    const out = this.make(dims, dtype);
    const bytes = storedBytes(dtype, product(dims));
    if (bytes) this.recorder.write(out.storage, new Uint8Array(Math.ceil(bytes / 4) * 4));
    return out;
  }

  async read(x: DeviceTensor): Promise<Float32Array> {
    if (x instanceof SplitTensor && x.backend === this) {
      const parts = await Promise.all(x.parts.map((p) => this.read(p)));
      const out = new Float32Array(x.size);
      parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
      return out;
    }
    const t = this.t(x);
    if (isQuantized(t.dtype)) {
      const n = t.dims[0];
      const k = t.size / n;
      const bytes = await this.recorder.readBytes(t.buffer, 0, quantLayout(t.dtype, n, k).bytes);
      return dequantize(unpackBlocks(new Uint8Array(bytes), t.dtype, n, k));
    }
    const bytes = await this.recorder.readBytes(t.buffer, 0, storedBytes(t.dtype, t.size));
    if (t.dtype === 'float32') return new Float32Array(bytes);
    const halves = new Uint16Array(bytes);
    return t.dtype === 'float16' ? halfToFloat32(halves) : bfloat16ToFloat32(halves);
  }

  flush(): Promise<void> {
    return this.recorder.flush();
  }

  /** A forward's position inputs' buffers given back (before the garbage collector would). */
  releasePositions(p: GpuPositionInputs): void {
    this.freed.unregister(p);
    for (const s of [p.cosSin, p.keyMask]) if (s) this.recorder.release(s);
    p.cosSin = p.keyMask = null;
  }

  release(x: DeviceTensor): void {
    if (x instanceof SplitTensor && x.backend === this) return x.parts.forEach((p) => this.release(p));
    const t = this.t(x);
    this.freed.unregister(t);
    this.recorder.release(t.storage);
  }

  tidy(fn: () => DeviceTensor): DeviceTensor {
    const scope = new Set<GpuTensor>();
    this.scopes.push(scope);
    let result: DeviceTensor;
    try {
      result = fn();
    } finally {
      this.scopes.pop();
    }
    const kept = this.t(result).storage;
    for (const t of scope) if (t.storage !== kept) this.recorder.release(t.storage);
    this.adopt(result as GpuTensor);
    return result;
  }

  /** Runs fn outside any tidy() scope, its tensors freed only when released (weights). */
  private persistent<T>(fn: () => T): T {
    this.scopes.push(null);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  positionInputs(host: HostPositionInputs): PositionInputs {
    const p = new GpuPositionInputs(this, host);
    if (host.positions && host.invFreq) {
      const table = cosSinTable(host.positions, host.invFreq, host.ropeScaling ?? 1);
      p.cosSin = this.recorder.allocate(table.byteLength);
      this.recorder.write(p.cosSin, table);
      this.freed.register(p, p.cosSin, p);
    }
    if (host.keyMask) {
      p.keyMask = this.recorder.allocate(4 * host.keyMask.length);
      this.recorder.write(p.keyMask, Uint32Array.from(host.keyMask));
      this.freed.register(p, p.keyMask, p);
    }
    return p;
  }

  /** A u32 buffer of host integers, freed once the commands recorded so far are submitted. */
  private indices(values: ArrayLike<number>): Storage {
    const s = this.recorder.allocate(4 * values.length);
    this.recorder.write(s, Uint32Array.from(values));
    this.recorder.release(s);
    return s;
  }

  // -- layout -------------------------------------------------------------------------------------------
  reshape(x: DeviceTensor, dims: readonly number[]): DeviceTensor {
    const t = this.t(x);
    if (isQuantized(t.dtype) && dims[0] !== t.dims[0]) throw new VipLlavaError(`reshape of a ${t.dtype} weight must keep its rows (${t.dims[0]})`);
    if (product(dims) !== t.size) throw new VipLlavaError(`reshape of [${t.dims.join(', ')}] to [${dims.join(', ')}] changes the element count`);
    t.storage.refs++;
    const out = new GpuTensor(this, t.storage, [...dims], t.dtype);
    this.adopt(out);
    return out;
  }

  /** Element counts as 32-bit words of dtype: halves go two to a word, so their counts must be even. */
  private words(dtype: GpuDtype, elements: number, what: string): number {
    if (dtype === 'float32') return elements;
    if (elements % 2) throw new VipLlavaError(`${what}: a ${dtype} tensor moves in pairs of values on WebGPU; ${elements} is odd`);
    return elements / 2;
  }

  narrow(x: DeviceTensor, dim: number, start: number, length: number): DeviceTensor {
    const t = this.float(x, 'narrow');
    const n = t.dims[dim];
    if (start < 0 || start + length > n) throw new VipLlavaError(`narrow [${start}, ${start + length}) outside dim of ${n}`);
    const outer = product(t.dims.slice(0, dim));
    const inner = product(t.dims.slice(dim + 1));
    const dims = [...t.dims];
    dims[dim] = length;
    const out = this.make(dims, t.dtype);
    const w = (e: number) => this.words(t.dtype, e, 'narrow');
    lay.copyRuns(this.recorder, out.buffer, t.buffer, { outer, run: w(length * inner), src: { offset: w(start * inner), stride: w(n * inner) }, dst: { offset: 0, stride: w(length * inner) } });
    return out;
  }

  concat(xs: readonly DeviceTensor[], dim: number): DeviceTensor {
    const ts = xs.map((x) => this.float(x, 'concat'));
    const dtype = ts[0].dtype === 'bfloat16' ? 'float32' : ts[0].dtype;
    const parts = ts.map((t) => (t.dtype === dtype ? t : this.f32(t)));
    const dims = [...ts[0].dims];
    const outer = product(dims.slice(0, dim));
    const inner = product(dims.slice(dim + 1));
    const total = ts.reduce((s, x) => s + x.dims[dim], 0);
    dims[dim] = total;
    const out = this.make(dims, dtype);
    const w = (e: number) => this.words(dtype, e, 'concat');
    let at = 0;
    for (const p of parts) {
      const n = p.dims[dim];
      lay.copyRuns(this.recorder, out.buffer, p.buffer, { outer, run: w(n * inner), src: { offset: 0, stride: w(n * inner) }, dst: { offset: w(at * inner), stride: w(total * inner) } });
      at += n;
    }
    return out;
  }

  expand(x: DeviceTensor, dims: readonly number[]): DeviceTensor {
    const src = this.f32(x);
    const reps = product(dims) / src.size;
    if (!Number.isInteger(reps)) throw new VipLlavaError(`cannot expand [${x.dims.join(', ')}] to [${dims.join(', ')}]`);
    const out = this.make(dims);
    lay.copyRuns(this.recorder, out.buffer, src.buffer, { outer: reps, run: src.size, src: { offset: 0, stride: 0 }, dst: { offset: 0, stride: src.size } });
    return out;
  }

  writeAt(dst: DeviceTensor, src: DeviceTensor, dim: number, offset: number): void {
    const d = this.float(dst, 'writeAt');
    if (d.dtype === 'bfloat16') throw new VipLlavaError('writeAt needs a float32 or float16 destination');
    const s = this.float(src, 'writeAt');
    const { outer, inner, n, total } = writeAtSpan(d.dims, s.dims, dim, offset);
    const w = (e: number) => this.words(d.dtype, e, 'writeAt');
    const runs = { outer, run: w(n * inner), src: { offset: 0, stride: n * inner }, dst: { offset: w(offset * inner), stride: w(total * inner) } };
    if (d.dtype === 'float16' && s.dtype !== 'float16') lay.halfRuns(this.recorder, d.buffer, this.f32(s).buffer, runs);
    else {
      const from = d.dtype === 'float32' ? this.f32(s) : s;
      lay.copyRuns(this.recorder, d.buffer, from.buffer, { ...runs, src: { offset: 0, stride: w(n * inner) } });
    }
  }

  indexSelect(x: DeviceTensor, indices: Int32Array): DeviceTensor {
    const t = this.float(x, 'indexSelect');
    const rows = t.dims[0];
    for (const i of indices) if (i < 0 || i >= rows) throw new VipLlavaError(`indexSelect: index ${i} outside dim of ${rows}`);
    const src = t.dtype === 'bfloat16' ? this.f32(t) : t;
    const out = this.make([indices.length, ...t.dims.slice(1)], src.dtype);
    lay.gatherRows(this.recorder, out.buffer, src.buffer, this.indices(indices).buffer, indices.length, this.words(src.dtype, t.size / rows, 'indexSelect'));
    return out;
  }

  embedding(table: DeviceTensor, ids: Int32Array): DeviceTensor {
    const [vocab, h] = table.dims;
    for (const id of ids) if (id < 0 || id >= vocab) throw new InputError(`token id ${id} is outside the vocabulary (size ${vocab})`);
    const out = this.make([ids.length, h]);
    if (!(table instanceof SplitTensor)) {
      lay.embedding(this.recorder, out.buffer, this.weight(table, 'embedding'), this.indices(ids).buffer, ids.length, h);
      return out;
    }
    // each part gathers the ids in its rows into a scratch [count, h], scattered to their places in out
    for (const { part, first } of table.spans) {
      const at = [...ids.keys()].filter((i) => ids[i] >= first && ids[i] < first + part.dims[0]);
      if (at.length === 0) continue;
      const rows = this.recorder.allocate(4 * at.length * h);
      lay.embedding(this.recorder, rows.buffer, this.weight(part, 'embedding'), this.indices(at.map((i) => ids[i] - first)).buffer, at.length, h);
      lay.scatterRows(this.recorder, out.buffer, rows.buffer, this.indices(at).buffer, at.length, h);
      this.recorder.release(rows);
    }
    return out;
  }

  scatterRows(dst: DeviceTensor, rows: Int32Array, src: DeviceTensor): DeviceTensor {
    const d = this.f32(dst);
    const s = this.f32(src);
    const h = d.dims[d.dims.length - 1];
    const out = this.make(d.dims);
    lay.copyRuns(this.recorder, out.buffer, d.buffer, { outer: 1, run: d.size, src: { offset: 0, stride: 0 }, dst: { offset: 0, stride: 0 } });
    lay.scatterRows(this.recorder, out.buffer, s.buffer, this.indices(rows).buffer, rows.length, h);
    return out;
  }

  // -- math -----------------------------------------------------------------------------------------------
  patchEmbed(pixels: DeviceTensor, weight: DeviceTensor): DeviceTensor {
    const g = patchGrid(pixels.dims, weight.dims);
    const cols = this.make([g.images, g.patches, g.patchLen]);
    lay.im2col(this.recorder, cols.buffer, this.f32(pixels).buffer, g);
    return this.linear(cols, this.reshape(weight, [g.hidden, g.patchLen])); // [N, P, hidden]
  }

  linear(x: DeviceTensor, w: DeviceTensor, bias?: DeviceTensor | null): DeviceTensor {
    const [n, k] = w.dims;
    if (x.dims[x.dims.length - 1] !== k) throw new VipLlavaError(`linear: input [${x.dims.join(', ')}] does not match weight [${w.dims.join(', ')}]`);
    const m = x.size / k;
    const out = this.make([...x.dims.slice(0, -1), n]);
    const b = bias ? this.weight(bias, 'linear bias') : null;
    if (!(w instanceof SplitTensor)) {
      const wt = this.t(w);
      linear(this.recorder, out.buffer, this.f32(x).buffer, { buffer: wt.buffer, dtype: wt.dtype }, b, m, n, k);
      return out;
    }
    // each part's features into a scratch [m, rows], copied to their columns of out; the bias added after
    const input = this.f32(x).buffer;
    for (const { part, first } of w.spans) {
      const rows = part.dims[0];
      const y = this.recorder.allocate(4 * m * rows);
      linear(this.recorder, y.buffer, input, { buffer: part.buffer, dtype: part.dtype }, null, m, rows, k);
      lay.copyRuns(this.recorder, out.buffer, y.buffer, { outer: m, run: rows, src: { offset: 0, stride: rows }, dst: { offset: first, stride: n } });
      this.recorder.release(y);
    }
    return bias ? this.add(out, bias) : out;
  }

  add(a: DeviceTensor, b: DeviceTensor): DeviceTensor {
    const x = this.f32(a);
    const y = this.f32(b);
    if (y.size === 0 || x.size % y.size !== 0) throw new VipLlavaError(`add: [${b.dims.join(', ')}] does not broadcast to [${a.dims.join(', ')}]`);
    const out = this.make(a.dims);
    ew.add(this.recorder, out.buffer, x.buffer, y.buffer, x.size, y.size);
    return out;
  }

  mul(a: DeviceTensor, b: DeviceTensor): DeviceTensor {
    const x = this.f32(a);
    const y = this.f32(b);
    if (x.size !== y.size) throw new VipLlavaError(`mul: shapes [${a.dims.join(', ')}] and [${b.dims.join(', ')}] differ`);
    const out = this.make(a.dims);
    ew.mul(this.recorder, out.buffer, x.buffer, y.buffer, x.size);
    return out;
  }

  activation(x: DeviceTensor, kind: Activation): DeviceTensor {
    const out = this.make(x.dims);
    ew.activation(this.recorder, out.buffer, this.f32(x).buffer, x.size, kind);
    return out;
  }

  layerNorm(x: DeviceTensor, weight: DeviceTensor, bias: DeviceTensor, eps: number): DeviceTensor {
    const h = x.dims[x.dims.length - 1];
    const out = this.make(x.dims);
    layerNorm(this.recorder, out.buffer, this.f32(x).buffer, this.weight(weight), this.weight(bias), x.size / h, h, eps);
    return out;
  }

  rmsNorm(x: DeviceTensor, weight: DeviceTensor, eps: number): DeviceTensor {
    const h = x.dims[x.dims.length - 1];
    const out = this.make(x.dims);
    rmsNorm(this.recorder, out.buffer, this.f32(x).buffer, this.weight(weight), x.size / h, h, eps);
    return out;
  }

  rope(x: DeviceTensor, inputs: PositionInputs, headDim: number): DeviceTensor {
    const width = x.dims[x.dims.length - 1];
    const rows = x.size / width;
    ropeInputs(inputs, rows); // the same checks as every engine's
    const table = (inputs as GpuPositionInputs).cosSin;
    if (!table) throw new VipLlavaError('rope: the position inputs were not made by this WebGPU backend');
    if (width % headDim || headDim % 2) throw new VipLlavaError(`rope: width ${width} is not a whole number of even heads of ${headDim}`);
    const out = this.make(x.dims);
    rope(this.recorder, out.buffer, this.f32(x).buffer, table.buffer, rows, width, headDim);
    return out;
  }

  attention(q: DeviceTensor, k: DeviceTensor, v: DeviceTensor, o: AttentionOptions): DeviceTensor {
    const [batch, seq] = q.dims;
    if (o.headDim > MAX_HEAD_DIM) throw new VipLlavaError(`attention: head_dim ${o.headDim} is over this engine's ${MAX_HEAD_DIM}`);
    const kt = this.float(k, 'attention');
    const vt = this.float(v, 'attention');
    if (kt.dtype !== vt.dtype || kt.dtype === 'bfloat16') throw new VipLlavaError('attention: keys and values must both be float32 or both float16');
    const mask = o.keyMask?.host.keyMask ? (o.keyMask as GpuPositionInputs).keyMask : null; // inputs without a mask mask nothing
    if (o.keyMask?.host.keyMask && !mask) throw new VipLlavaError('attention: the key mask was not made by this WebGPU backend');
    const out = this.make(q.dims);
    attention(this.recorder, out.buffer, this.f32(q).buffer, kt.buffer, vt.buffer, kt.dtype, mask?.buffer ?? null, this.dummy.buffer, {
      batch,
      seq,
      heads: o.numHeads,
      kvHeads: o.numKvHeads,
      d: o.headDim,
      kvLength: o.kvLength,
      kvRows: kt.dims[1],
      scale: o.scale,
      pastLength: o.causal ? o.causal.pastLength : null,
      window: o.slidingWindow ?? null,
    });
    return out;
  }
}
