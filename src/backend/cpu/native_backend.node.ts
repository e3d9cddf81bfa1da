/**
 * The native CPU engine behind the backend contract: every op checks its shapes here, then enqueues work on
 * the addon's executor thread and returns at once; read() resolves when the queue reaches it. Linear-layer
 * weights are repacked at load into panels for the SIMD kernels, in the format the load asked for.
 */
import { DeviceTensor, PositionInputs } from '../backend.js';
import type { AttentionOptions, Backend, HostPositionInputs, PackedEntry } from '../backend.js';
import type { Tensor } from '../../tensor/tensor.js';
import { InputError, VipLlavaError } from '../../errors.js';
import { ACTIVATIONS, type Activation, type FloatDtype, type KVDtype, type TensorDtype, type WeightFormat } from '../../vocabulary.js';
import { patchGrid, product, ropeInputs, writeAtSpan } from '../shapes.js';
import { ACT, FORMAT, nativeAddon, nativeFailure, SRC, type FormatCode, type Handle, type NativeAddon, type NativeInfo } from './native_addon.node.js';
import { isQuantized } from '../../weights/quantize.js';

type Stored = FloatDtype;
type Held = TensorDtype;
const HELD: Record<FormatCode, Held> = { 0: 'float32', 1: 'float16', 2: 'bfloat16', 3: 'bfloat16', 4: 'q8_0', 5: 'q4_0' };
const STORAGES: readonly Held[] = ['float32', 'float16', 'bfloat16', 'q8_0', 'q4_0'];

/** A linear weight in panels: [n, k] in `format` (dims may be any shape with n rows, e.g. a conv kernel). */
interface Packed {
  format: FormatCode;
  n: number;
  k: number;
}

class NativeTensor extends DeviceTensor {
  /** float32 copy of a half tensor, made on first use as an activation-side operand. */
  widened: NativeTensor | null = null;
  /** Panels of an unpacked weight, made on its first use by linear(). */
  panels: NativeTensor | null = null;
  constructor(
    readonly backend: NativeBackend,
    readonly handle: Handle,
    readonly dims: readonly number[],
    readonly dtype: Held,
    readonly packed: Packed | null = null,
    /** fp16 activations written in place (a KV cache from zeros(dims, 'float16')): never widened and cached. */
    readonly kvHalf = false,
  ) {
    super();
    backend.adopt(this);
  }
}


export interface NativeBackendOptions {
  /** Compute threads (default: the machine's physical cores). Shared by every native backend instance. */
  threads?: number;
}

export class NativeBackend implements Backend {
  readonly name = 'native';
  /** Uploads copy the weight (repacked), so the loader may reuse one read buffer. */
  readonly copiesOnUpload = true;
  private readonly a: NativeAddon;
  /** Tensors created inside each open tidy() scope, innermost last; null while making persistent caches. */
  private scopes: Array<Set<NativeTensor> | null> = [];

  constructor(options: NativeBackendOptions = {}) {
    const addon = nativeAddon();
    if (!addon) throw new VipLlavaError(`the native CPU engine is not available: ${nativeFailure()}`);
    this.a = addon;
    if (options.threads !== undefined) {
      if (!(Number.isInteger(options.threads) && options.threads >= 1)) throw new InputError(`threads must be a positive integer, got "${options.threads}"`);
      addon.setThreads(options.threads);
    }
  }

  describe(): string {
    const i = this.a.info();
    const bf16 = i.bf16dot ? 'bf16 products' : 'fp32 compute from bf16 storage (no bf16 dot products here)';
    return `native, ${i.isa} kernels (${i.instructions}), ${i.threads} threads; bfloat16: ${bf16}; this CPU runs ${i.kernelSets.join(', ')}`;
  }

  /** The kernel set in use and what it is built on, the sets this CPU runs, threads, bytes of native buffers alive. */
  info(): NativeInfo {
    return this.a.info();
  }

  /**
   * This machine's limits measured now with the current kernels and threads, each the instruction its kernels
   * use on full vectors: fp32 FMA and bf16 dot GFLOP/s (0 without bf16 products), the int8 instruction of the
   * Q4_0 kernels and what an 8-bit × 8-bit dot product costs (the same except on plain AVX2, where each
   * vpmaddubsw needs a vpmaddwd) in GOP/s (multiply and add counted apart), and memory read GB/s.
   */
  async limits(seconds = 0.3): Promise<{ fp32: number; bf16: number; int8: number; q8: number; readGBs: number }> {
    const [fp32, bf16, int8, q8, readGBs] = await this.a.limits(seconds);
    return { fp32, bf16, int8, q8, readGBs };
  }

  // -- packed weights, as bytes for weights/ to keep ---------------------------------------------------------
  packedLayout(format: WeightFormat): string | null {
    return format.linear ? `panels of 32, format ${packedFormat(format, this.a.bf16dot())}` : null;
  }

  packedEntry(x: DeviceTensor): PackedEntry | null {
    const t = this.t(x);
    if (!t.packed) return null;
    const { format, n, k } = t.packed;
    return { format, n, k, dims: [...t.dims], dtype: t.dtype, bytes: this.a.packedBytes(format, n, k) };
  }

  exportPacked(x: DeviceTensor): Uint8Array {
    return this.a.view(this.t(x).handle); // complete: packWeight waited for it
  }

  async importPacked(e: PackedEntry, fill: (into: ArrayBuffer) => Promise<unknown>): Promise<DeviceTensor> {
    if (!Object.values(FORMAT).includes(e.format as FormatCode) || this.a.packedBytes(e.format as FormatCode, e.n, e.k) !== e.bytes) {
      throw new VipLlavaError('a cached packed weight has an unknown layout');
    }
    const handle = this.a.alloc(e.bytes, false);
    await fill(this.a.view(handle).buffer); // the cache's bytes straight into engine memory
    return new NativeTensor(this, handle, e.dims, e.dtype as Held, { format: e.format as FormatCode, n: e.n, k: e.k });
  }

  /** Registers a new tensor with the innermost tidy() scope. */
  adopt(t: NativeTensor): void {
    this.scopes.at(-1)?.add(t);
  }

  tidy(fn: () => DeviceTensor): DeviceTensor {
    const scope = new Set<NativeTensor>();
    this.scopes.push(scope);
    let result: DeviceTensor;
    try {
      result = fn();
    } finally {
      this.scopes.pop();
    }
    const kept = this.t(result).handle;
    for (const t of scope) if (t.handle !== kept) this.a.release(t.handle);
    this.adopt(result as NativeTensor);
    return result;
  }

  /** Runs fn outside any tidy() scope (for caches kept on weights). */
  private persistent<T>(fn: () => T): T {
    this.scopes.push(null);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /**
   * Seconds and calls per op kind since the last reset, for ops that have run (timing is on when
   * $VIPLLAVA_PROFILE is set, or after setProfiling(true)).
   */
  profile(reset = false): Record<string, { seconds: number; calls: number }> {
    return Object.fromEntries(Object.entries(this.a.profile(reset)).map(([k, [seconds, calls]]) => [k, { seconds, calls }]));
  }

  setProfiling(on: boolean): void {
    this.a.setProfiling(on);
  }

  /** Waits until every enqueued op has run (for timing). */
  flush(): Promise<void> {
    return this.a.flush();
  }

  positionInputs(host: HostPositionInputs): PositionInputs {
    return new PositionInputs(this, host); // the addon copies the arrays it is given into each op
  }

  check(needs: Parameters<Backend['check']>[0]): void {
    for (const { name, format } of needs.parameters) {
      if (!STORAGES.includes(format.storage)) throw new VipLlavaError(`backend "${this.name}" cannot hold weights of dtype ${format.storage}`);
      if (isQuantized(format.storage) && !format.linear) throw new VipLlavaError(`backend "${this.name}" quantises only linear weights, not ${name}`);
    }
    for (const act of needs.activations) {
      if (!ACTIVATIONS.includes(act)) throw new VipLlavaError(`backend "${this.name}" has no activation "${act}"`);
    }
  }

  private t(x: DeviceTensor): NativeTensor {
    if (!(x instanceof NativeTensor) || x.backend !== this) {
      throw new VipLlavaError(`a tensor of another backend ("${x.backend.name}") was passed to the "${this.name}" backend`);
    }
    return x;
  }

  /** x as float32 (half tensors widened once and cached); packed weights are not activations. */
  private f32(x: DeviceTensor): NativeTensor {
    const r = this.t(x);
    if (r.packed) throw new VipLlavaError(`a linear-layer weight [${r.dims.join(', ')}] was used outside linear()`);
    if (r.kvHalf) throw new VipLlavaError('a float16 KV-cache tensor can only be used by attention, writeAt, narrow, indexSelect and read');
    if (r.dtype === 'float32') return r;
    if (!r.widened) {
      const out = this.persistent(() => this.empty(r.dims));
      this.a.widen(out.handle, r.handle, SRC[r.dtype as Stored], r.size);
      r.widened = out;
    }
    return r.widened;
  }

  private empty(dims: readonly number[], zero = false): NativeTensor {
    return new NativeTensor(this, this.a.alloc(product(dims) * 4, zero), [...dims], 'float32');
  }

  upload(t: Tensor, format: WeightFormat = { storage: t.dtype as Stored, compute: 'float32', linear: false }): DeviceTensor {
    if (t.dtype !== 'float32' && t.dtype !== 'float16' && t.dtype !== 'bfloat16') {
      throw new VipLlavaError(`backend "${this.name}" cannot upload a ${t.dtype} tensor as a weight`);
    }
    if (format.linear && t.dims.length >= 2) {
      // packed from the checkpoint's dtype (the packer widens, rounds to bf16 or quantises), fp16 storage from fp16
      const src = format.storage === 'float16' ? t.toHalf('float16') : t;
      const n = t.dims[0];
      const k = t.size / n;
      const code = packedFormat(format, this.a.bf16dot());
      return new NativeTensor(this, this.a.packWeight(src.data as Float32Array | Uint16Array, SRC[src.dtype as Stored], n, k, code), [...t.dims], HELD[code], { format: code, n, k });
    }
    const storage = format.storage;
    if (storage === 'float32') return new NativeTensor(this, this.a.fromHost(t.toFloat32()), [...t.dims], 'float32');
    if (storage !== 'float16' && storage !== 'bfloat16') throw new VipLlavaError(`backend "${this.name}" quantises only linear weights`);
    const held = t.toHalf(storage);
    return new NativeTensor(this, this.a.fromHost(held.data as Uint16Array), [...t.dims], storage);
  }

  fromHost(data: Float32Array, dims: readonly number[]): DeviceTensor {
    if (data.length !== product(dims)) throw new InputError(`fromHost: ${data.length} values do not fill dims [${dims.join(', ')}]`);
    return new NativeTensor(this, this.a.fromHost(data), [...dims], 'float32');
  }

  zeros(dims: readonly number[], dtype: KVDtype = 'float32'): DeviceTensor {
    return dtype === 'float16' ? this.emptyHalf(dims, true) : this.empty(dims, true);
  }

  private emptyHalf(dims: readonly number[], zero = false): NativeTensor {
    return new NativeTensor(this, this.a.alloc(product(dims) * 2, zero), [...dims], 'float16', null, true);
  }

  /** x itself when it is a float16 KV-cache tensor, else x as float32; with the SRC code of the result. */
  private kvOperand(x: DeviceTensor): [NativeTensor, number] {
    const r = this.t(x);
    return r.kvHalf ? [r, SRC.float16] : [this.f32(r), SRC.float32];
  }

  read(x: DeviceTensor): Promise<Float32Array> {
    const r = this.t(x);
    if (r.packed) return this.a.readPacked(r.handle, r.packed.format, r.packed.n, r.packed.k); // dequantised for q8_0 / q4_0
    return this.a.read(r.handle, SRC[r.dtype as Stored], 0, r.size);
  }

  /** Frees x's memory once the queued ops that use it have run (also freed when collected). */
  release(x: DeviceTensor): void {
    this.a.release(this.t(x).handle);
  }

  reshape(x: DeviceTensor, dims: readonly number[]): DeviceTensor {
    const r = this.t(x);
    if (product(dims) !== r.size) throw new VipLlavaError(`reshape of [${r.dims.join(', ')}] to [${dims.join(', ')}] changes the element count`);
    if (r.packed && dims[0] !== r.packed.n) throw new VipLlavaError(`a linear-layer weight [${r.dims.join(', ')}] can only be reshaped keeping ${r.packed.n} rows`);
    const out = new NativeTensor(this, r.handle, [...dims], r.dtype, r.packed, r.kvHalf);
    out.widened = r.widened && this.persistent(() => this.reshape(r.widened!, dims) as NativeTensor);
    return out;
  }

  narrow(x: DeviceTensor, dim: number, start: number, length: number): DeviceTensor {
    const [src, type] = this.kvOperand(x);
    const n = src.dims[dim];
    if (start < 0 || length < 0 || start + length > n) throw new VipLlavaError(`narrow [${start}, ${start + length}) outside dim of ${n}`);
    const outer = product(src.dims.slice(0, dim));
    const inner = product(src.dims.slice(dim + 1));
    const dims = [...src.dims];
    dims[dim] = length;
    const out = type === SRC.float16 ? this.emptyHalf(dims) : this.empty(dims);
    this.a.copy2d(out.handle, 0, length * inner, src.handle, start * inner, n * inner, outer, length * inner, type, type);
    return out;
  }

  concat(xs: readonly DeviceTensor[], dim: number): DeviceTensor {
    const dims = [...xs[0].dims];
    for (const x of xs) {
      if (x.dims.length !== dims.length || x.dims.some((d, i) => i !== dim && d !== dims[i])) {
        throw new VipLlavaError(`concat: [${x.dims.join(', ')}] does not match [${dims.join(', ')}] outside dim ${dim}`);
      }
    }
    const outer = product(dims.slice(0, dim));
    const inner = product(dims.slice(dim + 1));
    const total = xs.reduce((s, x) => s + x.dims[dim], 0);
    dims[dim] = total;
    const out = this.empty(dims);
    let at = 0;
    for (const x of xs) {
      const n = x.dims[dim];
      this.a.copy2d(out.handle, at * inner, total * inner, this.f32(x).handle, 0, n * inner, outer, n * inner, SRC.float32, SRC.float32);
      at += n;
    }
    return out;
  }

  expand(x: DeviceTensor, dims: readonly number[]): DeviceTensor {
    const src = this.f32(x);
    const reps = product(dims) / src.size;
    if (!Number.isInteger(reps)) throw new VipLlavaError(`cannot expand [${x.dims.join(', ')}] to [${dims.join(', ')}]`);
    const out = this.empty(dims);
    this.a.copy2d(out.handle, 0, src.size, src.handle, 0, 0, reps, src.size, SRC.float32, SRC.float32);
    return out;
  }

  writeAt(dst: DeviceTensor, src: DeviceTensor, dim: number, offset: number): void {
    const d = this.t(dst);
    if ((d.dtype !== 'float32' && !d.kvHalf) || d.packed) throw new VipLlavaError('writeAt needs a float32 destination or a float16 KV cache');
    const [s, srcType] = this.kvOperand(src);
    const { outer, inner, n, total } = writeAtSpan(d.dims, s.dims, dim, offset);
    this.a.copy2d(d.handle, offset * inner, total * inner, s.handle, 0, n * inner, outer, n * inner, d.kvHalf ? SRC.float16 : SRC.float32, srcType);
  }

  indexSelect(x: DeviceTensor, indices: Int32Array): DeviceTensor {
    const [src, type] = this.kvOperand(x);
    const rows = x.dims[0];
    for (const i of indices) if (i < 0 || i >= rows) throw new VipLlavaError(`indexSelect: index ${i} outside dim of ${rows}`);
    const inner = src.size / rows;
    const dims = [indices.length, ...x.dims.slice(1)];
    if (type === SRC.float16) {
      const out = this.emptyHalf(dims); // a float16 KV cache stays float16
      indices.forEach((i, j) => this.a.copy2d(out.handle, j * inner, inner, src.handle, i * inner, inner, 1, inner, type, type));
      return out;
    }
    const out = this.empty(dims);
    this.a.gather(out.handle, src.handle, SRC.float32, indices, inner); // the addon copies its array arguments
    return out;
  }

  embedding(table: DeviceTensor, ids: Int32Array): DeviceTensor {
    const w = this.t(table);
    if (w.packed) throw new VipLlavaError('embedding: the table is a packed linear weight');
    const [vocab, h] = w.dims;
    for (const id of ids) if (id < 0 || id >= vocab) throw new InputError(`token id ${id} is outside the vocabulary (size ${vocab})`);
    const out = this.empty([ids.length, h]);
    this.a.gather(out.handle, w.handle, SRC[w.dtype as Stored], ids, h);
    return out;
  }

  scatterRows(dst: DeviceTensor, rows: Int32Array, src: DeviceTensor): DeviceTensor {
    const d = this.f32(dst);
    const s = this.f32(src);
    const h = d.dims[d.dims.length - 1];
    const n = d.size / h;
    for (const r of rows) if (r < 0 || r >= n) throw new VipLlavaError(`scatterRows: row ${r} outside ${n} rows`);
    if (s.size !== rows.length * h) throw new VipLlavaError(`scatterRows: ${rows.length} rows need [${rows.length}, ${h}], got [${s.dims.join(', ')}]`);
    const out = this.empty(d.dims);
    this.a.copy2d(out.handle, 0, d.size, d.handle, 0, d.size, 1, d.size, SRC.float32, SRC.float32);
    rows.forEach((r, i) => this.a.copy2d(out.handle, r * h, h, s.handle, i * h, h, 1, h, SRC.float32, SRC.float32));
    return out;
  }

  patchEmbed(pixels: DeviceTensor, weight: DeviceTensor): DeviceTensor {
    const g = patchGrid(pixels.dims, weight.dims);
    const cols = this.empty([g.images, g.patches, g.patchLen]);
    this.a.im2col(cols.handle, this.f32(pixels).handle, g.images, g.channels, g.size, g.patch);
    return this.linear(cols, this.reshape(weight, [g.hidden, g.patchLen])); // [N, P, hidden]
  }

  linear(x: DeviceTensor, w: DeviceTensor, bias?: DeviceTensor | null): DeviceTensor {
    const wt = this.t(w);
    const [n] = wt.dims;
    const k = wt.size / n;
    const inDim = x.dims[x.dims.length - 1];
    if (wt.dims.length !== 2 || inDim !== k) throw new VipLlavaError(`linear: input [${x.dims.join(', ')}] does not match weight [${w.dims.join(', ')}]`);
    const packed = wt.packed ? wt : this.panelsOf(wt);
    const b = bias ? this.f32(bias) : null;
    if (b && b.size !== n) throw new VipLlavaError(`linear: bias [${b.dims.join(', ')}] does not match ${n} outputs`);
    const xs = this.f32(x);
    const m = xs.size / k;
    const out = this.empty([...x.dims.slice(0, -1), n]);
    this.a.linear(out.handle, xs.handle, packed.handle, b ? b.handle : null, m, k, n, packed.packed!.format);
    return out;
  }

  /** Panels for a weight that was uploaded without a linear hint (made once, kept beside it). */
  private panelsOf(w: NativeTensor): NativeTensor {
    if (!w.panels) {
      const [n] = w.dims;
      const k = w.size / n;
      const stored = w.dtype as Stored;
      const format = packedFormat({ storage: stored, compute: 'float32', linear: true }, false);
      const h = this.a.alloc(this.a.packedBytes(format, n, k), false);
      this.a.packBuffer(h, w.handle, SRC[stored], n, k, format);
      w.panels = this.persistent(() => new NativeTensor(this, h, [n, k], HELD[format], { format, n, k }));
    }
    return w.panels;
  }

  add(a: DeviceTensor, b: DeviceTensor): DeviceTensor {
    const x = this.f32(a);
    const y = this.f32(b);
    const suffix = b.dims.length <= a.dims.length && b.dims.every((d, i) => d === a.dims[a.dims.length - b.dims.length + i]);
    if (!suffix) throw new VipLlavaError(`add: [${b.dims.join(', ')}] does not broadcast to [${a.dims.join(', ')}]`);
    const out = this.empty(a.dims);
    this.a.add(out.handle, x.handle, y.handle, x.size, y.size);
    return out;
  }

  mul(a: DeviceTensor, b: DeviceTensor): DeviceTensor {
    const x = this.f32(a);
    const y = this.f32(b);
    if (x.size !== y.size) throw new VipLlavaError(`mul: shapes [${a.dims.join(', ')}] and [${b.dims.join(', ')}] differ`);
    const out = this.empty(a.dims);
    this.a.mul(out.handle, x.handle, y.handle, x.size);
    return out;
  }

  activation(x: DeviceTensor, kind: Activation): DeviceTensor {
    if (!(kind in ACT)) throw new VipLlavaError(`backend "${this.name}" has no activation "${kind}"`);
    const s = this.f32(x);
    const out = this.empty(s.dims);
    this.a.activation(out.handle, s.handle, s.size, ACT[kind]);
    return out;
  }

  layerNorm(x: DeviceTensor, weight: DeviceTensor, bias: DeviceTensor, eps: number): DeviceTensor {
    const s = this.f32(x);
    const h = s.dims[s.dims.length - 1];
    const w = this.f32(weight);
    const b = this.f32(bias);
    if (w.size !== h || b.size !== h) throw new VipLlavaError(`layerNorm: weight/bias of ${w.size}/${b.size} for rows of ${h}`);
    const out = this.empty(s.dims);
    this.a.layerNorm(out.handle, s.handle, w.handle, b.handle, s.size / h, h, eps);
    return out;
  }

  rmsNorm(x: DeviceTensor, weight: DeviceTensor, eps: number): DeviceTensor {
    const s = this.f32(x);
    const h = s.dims[s.dims.length - 1];
    const w = this.f32(weight);
    if (w.size !== h) throw new VipLlavaError(`rmsNorm: weight of ${w.size} for rows of ${h}`);
    const out = this.empty(s.dims);
    this.a.rmsNorm(out.handle, s.handle, w.handle, s.size / h, h, eps);
    return out;
  }

  rope(x: DeviceTensor, inputs: PositionInputs, headDim: number): DeviceTensor {
    const s = this.f32(x);
    const width = s.dims[s.dims.length - 1];
    const rows = s.size / width;
    const { positions, invFreq, scaling } = ropeInputs(inputs, rows);
    if (width % headDim !== 0 || invFreq.length !== headDim / 2) throw new VipLlavaError(`rope: rows of ${width} with head_dim ${headDim} and ${invFreq.length} frequencies`);
    const out = this.empty(s.dims);
    this.a.rope(out.handle, s.handle, rows, width, positions, headDim, invFreq, scaling);
    return out;
  }

  attention(q: DeviceTensor, k: DeviceTensor, v: DeviceTensor, o: AttentionOptions): DeviceTensor {
    const qs = this.f32(q);
    const [ks, kType] = this.kvOperand(k);
    const [vs, vType] = this.kvOperand(v);
    if (kType !== vType) throw new VipLlavaError('attention: keys and values must be held in the same dtype');
    const [batch, seq] = qs.dims;
    const kvRows = ks.dims[1];
    if (qs.dims[2] !== o.numHeads * o.headDim || ks.dims[2] !== o.numKvHeads * o.headDim || vs.size !== ks.size || ks.dims[0] !== batch) {
      throw new VipLlavaError(`attention: q [${qs.dims.join(', ')}], k [${ks.dims.join(', ')}], v [${vs.dims.join(', ')}] do not fit ${o.numHeads}/${o.numKvHeads} heads of ${o.headDim}`);
    }
    if (o.kvLength > kvRows || o.numHeads % o.numKvHeads !== 0) throw new VipLlavaError(`attention: kvLength ${o.kvLength} of ${kvRows} rows, ${o.numHeads} heads over ${o.numKvHeads}`);
    const keyMask = o.keyMask?.host.keyMask;
    if (keyMask && keyMask.length !== batch * o.kvLength) throw new VipLlavaError(`attention: key mask of ${keyMask.length} for [${batch}, ${o.kvLength}]`);
    const dims = Float64Array.of(batch, seq, kvRows, o.numHeads, o.numKvHeads, o.headDim, o.kvLength, o.causal ? o.causal.pastLength : -1, o.slidingWindow ?? -1);
    const out = this.empty(qs.dims);
    this.a.attention(out.handle, qs.handle, ks.handle, vs.handle, dims, o.scale, keyMask ?? null, kType);
    return out;
  }
}

/**
 * The panel layout of a linear weight: quantised blocks, bf16 products where the kernel set has them (else
 * fp32 compute from bf16 storage), or fp32 compute from the storage dtype.
 */
function packedFormat(f: WeightFormat, bf16dot: boolean): FormatCode {
  if (f.storage === 'q8_0') return FORMAT.q8_0;
  if (f.storage === 'q4_0') return FORMAT.q4_0;
  if (f.compute === 'bfloat16') return bf16dot ? FORMAT.bf16dot : FORMAT.bf16;
  return f.storage === 'float16' ? FORMAT.f16 : f.storage === 'bfloat16' ? FORMAT.bf16 : FORMAT.f32;
}
