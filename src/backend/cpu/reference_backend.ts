import { DeviceTensor, PositionInputs } from '../backend.js';
import type { AttentionOptions, Backend, HostPositionInputs } from '../backend.js';
import type { Tensor } from '../../tensor/tensor.js';
import { InputError, VipLlavaError } from '../../errors.js';
import { ACTIVATIONS, type Activation, type FloatDtype, type KVDtype, type WeightFormat } from '../../vocabulary.js';
import { im2col, patchGrid, product, ropeInputs, writeAtSpan } from '../shapes.js';
import { float32ToHalf } from '../../tensor/float16.js';
import * as k from './reference_kernels.js';

type Stored = FloatDtype;

class RefTensor extends DeviceTensor {
  constructor(
    readonly backend: ReferenceBackend,
    readonly data: Float32Array | Uint16Array,
    readonly dims: readonly number[],
    readonly dtype: Stored,
  ) {
    super();
  }
}


/** The plain-TypeScript engine: fp32 compute, weights kept in their stored dtype unless asked otherwise. */
export class ReferenceBackend implements Backend {
  readonly name = 'reference';

  describe(): string {
    return 'reference (TypeScript, fp32 compute)';
  }

  check(needs: Parameters<Backend['check']>[0]): void {
    for (const { format } of needs.parameters) {
      const d = format.storage;
      if (d !== 'float32' && d !== 'float16' && d !== 'bfloat16') {
        throw new VipLlavaError(`backend "${this.name}" cannot hold weights of dtype ${d} (quantised weights need the native or WebGPU engine)`);
      }
    }
    for (const a of needs.activations) {
      if (!ACTIVATIONS.includes(a)) throw new VipLlavaError(`backend "${this.name}" has no activation "${a}"`);
    }
  }

  private t(x: DeviceTensor): RefTensor {
    if (!(x instanceof RefTensor) || x.backend !== this) {
      throw new VipLlavaError(`a tensor of another backend instance ("${x.backend.name}") was passed to this "${this.name}" backend`);
    }
    return x;
  }

  /** float32 values of x (activations as they are; half weights widened). */
  private f32(x: DeviceTensor): Float32Array {
    const r = this.t(x);
    return r.dtype === 'float32' ? (r.data as Float32Array) : k.widen(r);
  }

  private make(data: Float32Array, dims: readonly number[]): RefTensor {
    return new RefTensor(this, data, [...dims], 'float32');
  }

  /** Weights are held in their storage dtype and computed in fp32 (bf16 compute included); q8_0 / q4_0 are refused by check(). */
  upload(t: Tensor, format?: WeightFormat): DeviceTensor {
    if (t.dtype !== 'float32' && t.dtype !== 'float16' && t.dtype !== 'bfloat16') {
      throw new VipLlavaError(`backend "${this.name}" cannot upload a ${t.dtype} tensor as a weight`);
    }
    const storage = format?.storage ?? t.dtype;
    if (storage === 'float32') return this.make(t.toFloat32(), t.dims);
    if (storage !== 'float16' && storage !== 'bfloat16') throw new VipLlavaError(`backend "${this.name}" cannot hold weights of dtype ${storage}`);
    const w = t.toHalf(storage);
    return new RefTensor(this, w.data as Uint16Array, [...w.dims], storage);
  }

  async flush(): Promise<void> {
    // every op has run when it returns
  }

  positionInputs(host: HostPositionInputs): PositionInputs {
    return new PositionInputs(this, host);
  }

  fromHost(data: Float32Array, dims: readonly number[]): DeviceTensor {
    if (data.length !== product(dims)) {
      throw new InputError(`fromHost: ${data.length} values do not fill dims [${dims.join(', ')}]`);
    }
    return this.make(data, dims);
  }

  zeros(dims: readonly number[], dtype: KVDtype = 'float32'): DeviceTensor {
    if (dtype === 'float16') return new RefTensor(this, new Uint16Array(product(dims)), [...dims], 'float16');
    return this.make(new Float32Array(product(dims)), dims);
  }

  async read(x: DeviceTensor): Promise<Float32Array> {
    return this.f32(x).slice();
  }

  release(_x: DeviceTensor): void {
    // Garbage collected.
  }

  reshape(x: DeviceTensor, dims: readonly number[]): DeviceTensor {
    const r = this.t(x);
    if (product(dims) !== r.size) {
      throw new VipLlavaError(`reshape of [${r.dims.join(', ')}] to [${dims.join(', ')}] changes the element count`);
    }
    return new RefTensor(this, r.data, [...dims], r.dtype);
  }

  narrow(x: DeviceTensor, dim: number, start: number, length: number): DeviceTensor {
    const r = this.t(x);
    const src = r.dtype === 'float16' ? r.data : this.f32(x); // a float16 KV cache stays float16
    const dims = x.dims;
    const outer = product(dims.slice(0, dim));
    const inner = product(dims.slice(dim + 1));
    const n = dims[dim];
    if (start < 0 || start + length > n) throw new VipLlavaError(`narrow [${start}, ${start + length}) outside dim of ${n}`);
    const out = r.dtype === 'float16' ? new Uint16Array(outer * length * inner) : new Float32Array(outer * length * inner);
    for (let o = 0; o < outer; o++) {
      out.set(src.subarray((o * n + start) * inner, (o * n + start + length) * inner), o * length * inner);
    }
    const outDims = [...dims];
    outDims[dim] = length;
    return out instanceof Uint16Array ? new RefTensor(this, out, outDims, 'float16') : this.make(out, outDims);
  }

  concat(xs: readonly DeviceTensor[], dim: number): DeviceTensor {
    const dims = [...xs[0].dims];
    const outer = product(dims.slice(0, dim));
    const inner = product(dims.slice(dim + 1));
    const total = xs.reduce((s, x) => s + x.dims[dim], 0);
    const out = new Float32Array(outer * total * inner);
    let at = 0;
    for (const x of xs) {
      const src = this.f32(x);
      const n = x.dims[dim];
      for (let o = 0; o < outer; o++) {
        out.set(src.subarray(o * n * inner, (o + 1) * n * inner), (o * total + at) * inner);
      }
      at += n;
    }
    dims[dim] = total;
    return this.make(out, dims);
  }

  expand(x: DeviceTensor, dims: readonly number[]): DeviceTensor {
    const src = this.f32(x);
    const reps = product(dims) / src.length;
    if (!Number.isInteger(reps)) throw new VipLlavaError(`cannot expand [${x.dims.join(', ')}] to [${dims.join(', ')}]`);
    const out = new Float32Array(product(dims));
    for (let r = 0; r < reps; r++) out.set(src, r * src.length);
    return this.make(out, dims);
  }

  writeAt(dst: DeviceTensor, src: DeviceTensor, dim: number, offset: number): void {
    const d = this.t(dst);
    if (d.dtype === 'bfloat16') throw new VipLlavaError('writeAt needs a float32 or float16 destination');
    const s = this.f32(src);
    // a float16 destination (the KV cache) gets each value rounded to the nearest half
    const put = (v: Float32Array, at: number) => (d.dtype === 'float16' ? v.forEach((x, i) => (d.data[at + i] = float32ToHalf(x))) : d.data.set(v, at));
    const { outer, inner, n, total } = writeAtSpan(d.dims, src.dims, dim, offset);
    for (let o = 0; o < outer; o++) {
      put(s.subarray(o * n * inner, (o + 1) * n * inner), (o * total + offset) * inner);
    }
  }

  indexSelect(x: DeviceTensor, indices: Int32Array): DeviceTensor {
    const r = this.t(x);
    const src = r.dtype === 'float16' ? r.data : this.f32(x); // a float16 KV cache stays float16
    const inner = src.length / x.dims[0];
    const out = r.dtype === 'float16' ? new Uint16Array(indices.length * inner) : new Float32Array(indices.length * inner);
    indices.forEach((i, j) => {
      if (i < 0 || i >= x.dims[0]) throw new VipLlavaError(`indexSelect: index ${i} outside dim of ${x.dims[0]}`);
      out.set(src.subarray(i * inner, (i + 1) * inner), j * inner);
    });
    const dims = [indices.length, ...x.dims.slice(1)];
    return out instanceof Uint16Array ? new RefTensor(this, out, dims, 'float16') : this.make(out, dims);
  }

  embedding(table: DeviceTensor, ids: Int32Array): DeviceTensor {
    const w = this.t(table);
    const [vocab, h] = w.dims;
    const out = new Float32Array(ids.length * h);
    const scratch = new Float32Array(h);
    ids.forEach((id, i) => {
      if (id < 0 || id >= vocab) throw new InputError(`token id ${id} is outside the vocabulary (size ${vocab})`);
      out.set(k.weightRow(w, id, h, scratch), i * h);
    });
    return this.make(out, [ids.length, h]);
  }

  scatterRows(dst: DeviceTensor, rows: Int32Array, src: DeviceTensor): DeviceTensor {
    const out = this.f32(dst).slice();
    const s = this.f32(src);
    const h = dst.dims[dst.dims.length - 1];
    rows.forEach((r, i) => out.set(s.subarray(i * h, (i + 1) * h), r * h));
    return this.make(out, dst.dims);
  }

  patchEmbed(pixels: DeviceTensor, weight: DeviceTensor): DeviceTensor {
    const g = patchGrid(pixels.dims, weight.dims);
    const cols = this.make(im2col(this.f32(pixels), g), [g.images, g.patches, g.patchLen]);
    return this.linear(cols, this.reshape(weight, [g.hidden, g.patchLen])); // [N, P, hidden]
  }

  linear(x: DeviceTensor, w: DeviceTensor, bias?: DeviceTensor | null): DeviceTensor {
    const [n, kDim] = w.dims;
    const inDim = x.dims[x.dims.length - 1];
    if (inDim !== kDim) {
      throw new VipLlavaError(`linear: input [${x.dims.join(', ')}] does not match weight [${w.dims.join(', ')}]`);
    }
    const m = x.size / kDim;
    const out = k.linear(this.f32(x), m, kDim, this.t(w), n, bias ? this.f32(bias) : null);
    return this.make(out, [...x.dims.slice(0, -1), n]);
  }

  add(a: DeviceTensor, b: DeviceTensor): DeviceTensor {
    const x = this.f32(a);
    const y = this.f32(b);
    if (x.length % y.length !== 0) {
      throw new VipLlavaError(`add: [${b.dims.join(', ')}] does not broadcast to [${a.dims.join(', ')}]`);
    }
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i] + y[i % y.length];
    return this.make(out, a.dims);
  }

  mul(a: DeviceTensor, b: DeviceTensor): DeviceTensor {
    const x = this.f32(a);
    const y = this.f32(b);
    if (x.length !== y.length) throw new VipLlavaError(`mul: shapes [${a.dims.join(', ')}] and [${b.dims.join(', ')}] differ`);
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i] * y[i];
    return this.make(out, a.dims);
  }

  activation(x: DeviceTensor, kind: Activation): DeviceTensor {
    return this.make(k.activation(this.f32(x), kind), x.dims);
  }

  layerNorm(x: DeviceTensor, weight: DeviceTensor, bias: DeviceTensor, eps: number): DeviceTensor {
    const h = x.dims[x.dims.length - 1];
    return this.make(k.layerNorm(this.f32(x), h, this.f32(weight), this.f32(bias), eps), x.dims);
  }

  rmsNorm(x: DeviceTensor, weight: DeviceTensor, eps: number): DeviceTensor {
    const h = x.dims[x.dims.length - 1];
    return this.make(k.rmsNorm(this.f32(x), h, this.f32(weight), eps), x.dims);
  }

  rope(x: DeviceTensor, inputs: PositionInputs, headDim: number): DeviceTensor {
    const width = x.dims[x.dims.length - 1];
    const rows = x.size / width;
    const { positions, invFreq, scaling } = ropeInputs(inputs, rows);
    return this.make(k.rope(this.f32(x), rows, width, positions, headDim, invFreq, scaling), x.dims);
  }

  attention(q: DeviceTensor, kT: DeviceTensor, vT: DeviceTensor, o: AttentionOptions): DeviceTensor {
    const [batch, seq] = q.dims;
    // a float16 cache is widened for the rows in use only, not its whole length
    const used = (x: DeviceTensor) => (this.t(x).dtype === 'float16' ? this.narrow(x, 1, 0, o.kvLength) : x);
    const [ks, vs] = [used(kT), used(vT)];
    const out = k.attention(this.f32(q), this.f32(ks), this.f32(vs), batch, seq, ks.dims[1], { ...o, keyMask: o.keyMask?.host.keyMask });
    return this.make(out, q.dims);
  }
}
