import { InputError } from '../errors.js';
import { bfloat16ToFloat32, float32ToBfloat16, float32ToHalf, halfToFloat32 } from './float16.js';

/** Element types a host tensor can hold. float16/bfloat16 data are raw bit patterns in a Uint16Array. */
export type DType = 'float32' | 'float16' | 'bfloat16' | 'int32' | 'int64';

export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float16' | 'bfloat16'
    ? Uint16Array
    : D extends 'int32'
      ? Int32Array
      : BigInt64Array;

export type NestedNumbers = number | NestedNumbers[];

/** A host tensor: contiguous row-major `data` of `dtype` with shape `dims`. */
export class Tensor<D extends DType = DType> {
  readonly dims: readonly number[];

  constructor(
    readonly dtype: D,
    readonly data: TypedArrayFor<D>,
    dims: readonly number[],
  ) {
    const size = dims.reduce((a, b) => a * b, 1);
    if (data.length !== size) {
      throw new InputError(`Tensor data has ${data.length} elements but dims [${dims.join(', ')}] need ${size}`);
    }
    this.dims = [...dims];
  }

  get size(): number {
    return this.data.length;
  }

  /** The values as float32 (half and bfloat16 widened exactly; integers converted). */
  toFloat32(): Float32Array {
    switch (this.dtype) {
      case 'float32':
        return this.data as Float32Array;
      case 'float16':
        return halfToFloat32(this.data as Uint16Array);
      case 'bfloat16':
        return bfloat16ToFloat32(this.data as Uint16Array);
      default:
        return Float32Array.from(this.toNumbers());
    }
  }

  /** The values rounded to float16 or bfloat16 (nearest even); this tensor when it already has that dtype. */
  toHalf(dtype: 'float16' | 'bfloat16'): Tensor {
    if ((this.dtype as DType) === dtype) return this;
    const values = this.toFloat32();
    const round = dtype === 'float16' ? float32ToHalf : float32ToBfloat16;
    const out = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = round(values[i]);
    return new Tensor(dtype, out, this.dims);
  }

  /** Flat values as JS numbers (int64 converted with Number()). */
  toNumbers(): number[] {
    switch (this.dtype) {
      case 'int64':
        return Array.from(this.data as BigInt64Array, Number);
      case 'float16':
      case 'bfloat16':
        return Array.from(this.toFloat32());
      default:
        return Array.from(this.data as Float32Array | Int32Array);
    }
  }

  /** Nested arrays of numbers shaped like `dims`, as `torch.Tensor.tolist()`. */
  tolist(): NestedNumbers {
    const flat = this.toNumbers();
    if (this.dims.length === 0) return flat[0];
    const build = (axis: number, offset: number): NestedNumbers[] => {
      const n = this.dims[axis];
      const stride = this.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
      const out: NestedNumbers[] = [];
      for (let i = 0; i < n; i++) {
        out.push(axis === this.dims.length - 1 ? flat[offset + i] : build(axis + 1, offset + i * stride));
      }
      return out;
    };
    return build(0, 0);
  }
}

/** Integer inputs (token ids, masks, labels) as a tensor of int32/int64 or as nested arrays. */
export type IntInput = Tensor<'int32'> | Tensor<'int64'> | Tensor | number[][] | number[];

/**
 * Reads a [batch, seq] integer input into an Int32Array. `name` appears in error messages.
 * A 1-D input is taken as one row.
 */
export function readIntMatrix(input: IntInput, name: string): { data: Int32Array; rows: number; cols: number } {
  if (input instanceof Tensor) {
    if (input.dtype !== 'int32' && input.dtype !== 'int64') {
      throw new InputError(`${name} must be an int32 or int64 tensor, got ${input.dtype}`);
    }
    if (input.dims.length !== 2 && input.dims.length !== 1) {
      throw new InputError(`${name} must have shape [batch, sequence], got [${input.dims.join(', ')}]`);
    }
    const [rows, cols] = input.dims.length === 2 ? input.dims : [1, input.dims[0]];
    const data = new Int32Array(rows * cols);
    const src = input.data as Int32Array | BigInt64Array;
    for (let i = 0; i < data.length; i++) {
      const v = Number(src[i]);
      if (!Number.isInteger(v) || v > 0x7fffffff || v < -0x80000000) {
        throw new InputError(`${name} holds ${v}, which is not a valid 32-bit id`);
      }
      data[i] = v;
    }
    return { data, rows, cols };
  }
  if (!Array.isArray(input)) throw new InputError(`${name} must be a Tensor or an array of arrays of integers`);
  const rowsArr = (input.length > 0 && Array.isArray(input[0]) ? input : [input]) as number[][];
  const rows = rowsArr.length;
  const cols = rows ? rowsArr[0].length : 0;
  const data = new Int32Array(rows * cols);
  rowsArr.forEach((row, r) => {
    if (!Array.isArray(row) || row.length !== cols) {
      throw new InputError(`${name} rows must all have length ${cols} (row ${r} differs); pad the batch first`);
    }
    row.forEach((v, c) => {
      if (!Number.isInteger(v)) throw new InputError(`${name}[${r}][${c}] is ${v}, not an integer`);
      data[r * cols + c] = v;
    });
  });
  return { data, rows, cols };
}

/** [batch, length] 0/1 mask as bytes; undefined when every entry is 1 (nothing to mask). */
export function readMask(input: IntInput, batch: number, length: number): Uint8Array | undefined {
  const m = readIntMatrix(input, 'attentionMask');
  if (m.rows !== batch || m.cols !== length) {
    throw new InputError(`attentionMask must be [${batch}, ${length}] (past + current tokens), got [${m.rows}, ${m.cols}]`);
  }
  let allOnes = true;
  const out = new Uint8Array(m.data.length);
  m.data.forEach((v, i) => {
    if (v !== 0 && v !== 1) throw new InputError(`attentionMask holds ${v}; only 0 and 1 are allowed`);
    out[i] = v;
    if (v === 0) allOnes = false;
  });
  return allOnes ? undefined : out;
}
