/**
 * What every WebGPU op goes through: compiled pipelines (one per shader text), a pool of buffers by size class,
 * and one command encoder that records dispatches until something has to wait (a read, a flush) or enough work
 * is queued. Buffers given back while commands that use them are still unsubmitted return to the pool only once
 * those commands are submitted, so later writes (queue.writeBuffer runs at once) can never reach them early.
 * The dispatches' parameter blocks go into one uniform buffer at dynamic offsets, a slot per dispatch, written
 * with one queue write just before the submission that reads them (queue operations run in order, so the next
 * submission's write cannot reach this one's blocks early). A bind group then depends only on the pipeline and the
 * storage buffers, and a decode step, allocating as the last one did from a pool kept in a fixed order, gets the
 * same buffers: so bind groups are kept by (pipeline, buffers). Pool buffers are never destroyed, so a kept bind
 * group stays valid.
 */
import { VipLlavaError } from '../../errors.js';
import { subgroups } from './device.js';

/** GPUBufferUsage and GPUMapMode as numbers (the globals exist only where WebGPU does). */
const STORAGE = 0x80;
const UNIFORM = 0x40;
const COPY_SRC = 0x04;
const COPY_DST = 0x08;
const MAP_READ = 0x01;
const MAP_MODE_READ = 0x1;

/** Dispatches recorded before the encoder is submitted on its own, bounding what waits in it (and its slots). */
const SUBMIT_EVERY = 256;
/** A dispatch's parameter block: at most this many 32-bit words. */
const PARAM_WORDS = 16;
/** Bind groups kept at most; past that they are dropped and made again as needed. */
const KEPT_GROUPS = 16384;
/** Threads per workgroup of the one-dimensional kernels; grids wider than MAX_GROUPS wrap into y. */
export const THREADS = 64;
const MAX_GROUPS = 65535;

/** A storage buffer with a reference count (tensors that share it: reshapes). */
export class Storage {
  refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    readonly bytes: number,
  ) {}
}

/** GPU time per op label, from timestamp queries (where the device has them). */
export type Profile = Record<string, { seconds: number; calls: number }>;

const QUERY_RESOLVE = 0x200;
/** Timestamp pairs one submission holds at most while profiling (it is submitted when they run out). */
const PROFILE_PAIRS = 1024;

export interface Binding {
  /** What the dispatch is, for profiles ("linear gemv", "attention prefill", …). */
  label?: string;
  /** Storage buffers in binding order (1, 2, …); binding 0 is the op's parameters. */
  buffers: GPUBuffer[];
  /** The parameters: 32-bit words (u32, i32 or f32 bit patterns). */
  params: ArrayLike<number>;
}

export class Recorder {
  private readonly pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout; id: number }>();
  /** Bind groups by pipeline and buffer ids. */
  private readonly groups = new Map<string, GPUBindGroup>();
  /** The parameter slots: a uniform buffer, and the blocks of the dispatches recorded since the last submission. */
  private readonly slotBytes: number;
  private readonly params: GPUBuffer;
  private readonly blocks: Uint32Array<ArrayBuffer>;
  private slots = 0;
  /** Whether subgroups are always 32 wide here (the kernels then reduce a 32-thread row with subgroupAdd). */
  readonly subgroups32: boolean;
  /** Whether the GEMM may use subgroup matrices: 16 × 16 × 16 f16 products into f32 on 32-wide subgroups. */
  readonly subgroupMatrix: boolean;
  private readonly ids = new WeakMap<GPUBuffer, number>();
  private nextId = 0;
  private readonly free = new Map<number, GPUBuffer[]>();
  private pending: Array<{ size: number; buffer: GPUBuffer }> = [];
  /** Mappable buffers that reads copy into, by size. */
  private readonly staging = new Map<number, GPUBuffer[]>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private failure: string | null = null;
  /** While profiling: the query set, the labels of the pairs recorded into the open encoder, and the totals. */
  private profiling: { set: GPUQuerySet; labels: string[]; pending: Array<Promise<void>>; totals: Profile } | null = null;

  constructor(readonly device: GPUDevice) {
    device.addEventListener?.('uncapturederror', (e) => {
      this.failure ??= (e as GPUUncapturedErrorEvent).error.message;
    });
    this.slotBytes = Math.max(4 * PARAM_WORDS, device.limits.minUniformBufferOffsetAlignment);
    this.params = device.createBuffer({ size: SUBMIT_EVERY * this.slotBytes, usage: UNIFORM | COPY_DST });
    this.blocks = new Uint32Array((SUBMIT_EVERY * this.slotBytes) / 4);
    const sg = subgroups(device);
    this.subgroups32 = sg.sizes[0] === 32 && sg.sizes[1] === 32;
    this.subgroupMatrix =
      this.subgroups32 && device.features.has('shader-f16') && sg.matrices.some((c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && c.M === 16 && c.N === 16 && c.K === 16);
  }

  /** A storage buffer of at least `bytes` (rounded up to a size class, so that freed ones are reused). */
  allocate(bytes: number): Storage {
    const limit = Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize);
    if (bytes > limit) throw new VipLlavaError(`a tensor of ${bytes} bytes exceeds this GPU's largest storage binding (${limit} bytes)`);
    const size = Math.min(sizeClass(bytes), limit - (limit % 4)); // a size class never beyond the limit
    const buffer = this.free.get(size)?.pop() ?? this.device.createBuffer({ size, usage: STORAGE | COPY_SRC | COPY_DST });
    return new Storage(buffer, bytes);
  }

  /** Gives a storage back; it joins the pool once the commands recorded so far are submitted. */
  release(s: Storage): void {
    if (--s.refs === 0) this.pending.push({ size: s.buffer.size, buffer: s.buffer });
  }

  /** Writes host data into a storage (at once, ahead of any command recorded later). */
  write(s: Storage, data: ArrayBufferView, byteOffset = 0): void {
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength); // never shared memory here
    const padded = bytes.byteLength % 4 ? new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4) : null;
    padded?.set(bytes);
    this.device.queue.writeBuffer(s.buffer, byteOffset, padded ?? bytes);
  }

  /**
   * The pipeline of a WGSL compute shader (entry point `main`), compiled once per text, with its bindings as the
   * shader declares them: the parameters at binding 0 (a uniform at a dynamic offset), then storage buffers.
   */
  private pipeline(code: string): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout; id: number } {
    let p = this.pipelines.get(code);
    if (!p) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      for (const [, binding, kind] of code.matchAll(/@group\(0\)\s*@binding\((\d+)\)\s*var<([^>]+)>/g)) {
        const type: GPUBufferBindingType = kind === 'uniform' ? 'uniform' : kind.includes('read_write') ? 'storage' : 'read-only-storage';
        entries.push({ binding: Number(binding), visibility: 0x4 /* COMPUTE */, buffer: { type, hasDynamicOffset: type === 'uniform' } });
      }
      const layout = this.device.createBindGroupLayout({ entries });
      const module = this.device.createShaderModule({ code });
      const pipeline = this.device.createComputePipeline({ layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }), compute: { module, entryPoint: 'main' } });
      p = { pipeline, layout, id: this.pipelines.size };
      this.pipelines.set(code, p);
    }
    return p;
  }

  private id(buffer: GPUBuffer): number {
    let id = this.ids.get(buffer);
    if (id === undefined) this.ids.set(buffer, (id = this.nextId++));
    return id;
  }

  /** Records one dispatch of `groups` workgroups (x, or x·y when wider than one dimension allows). */
  dispatch(code: string, b: Binding, groups: number | [number, number]): void {
    const { pipeline, layout, id } = this.pipeline(code);
    if (b.params.length > PARAM_WORDS) throw new VipLlavaError(`a dispatch's parameters are ${b.params.length} words; at most ${PARAM_WORDS} fit a slot`);
    let key = String(id);
    for (const buffer of b.buffers) key += `,${this.id(buffer)}`;
    let group = this.groups.get(key);
    if (!group) {
      if (this.groups.size >= KEPT_GROUPS) this.groups.clear();
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.params, size: 4 * PARAM_WORDS } }];
      b.buffers.forEach((buffer, i) => entries.push({ binding: i + 1, resource: { buffer } }));
      group = this.device.createBindGroup({ layout, entries });
      this.groups.set(key, group);
    }
    const slot = this.slots++;
    this.blocks.fill(0, (slot * this.slotBytes) / 4, (slot * this.slotBytes) / 4 + PARAM_WORDS);
    this.blocks.set(b.params, (slot * this.slotBytes) / 4);
    this.encoder ??= this.device.createCommandEncoder();
    const prof = this.profiling;
    if (prof) {
      // one pass per dispatch, its start and end timestamped
      this.pass?.end();
      const at = 2 * prof.labels.length;
      prof.labels.push(b.label ?? 'unlabelled');
      this.pass = this.encoder.beginComputePass({ timestampWrites: { querySet: prof.set, beginningOfPassWriteIndex: at, endOfPassWriteIndex: at + 1 } });
    }
    this.pass ??= this.encoder.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, group, [slot * this.slotBytes]);
    const [x, y] = typeof groups === 'number' ? grid(groups) : groups;
    if (x > 0 && y > 0) this.pass.dispatchWorkgroups(x, y);
    if (prof) {
      this.pass.end();
      this.pass = null;
    }
    if (this.slots >= SUBMIT_EVERY || (prof && prof.labels.length >= PROFILE_PAIRS)) this.submit();
  }

  /** Records a buffer-to-buffer copy. */
  copy(from: GPUBuffer, fromOffset: number, to: GPUBuffer, toOffset: number, bytes: number): void {
    this.pass?.end();
    this.pass = null;
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(from, fromOffset, to, toOffset, bytes);
  }

  /** Submits what is recorded; the buffers given back meanwhile return to the pool. */
  submit(): void {
    this.pass?.end();
    this.pass = null;
    // the parameter blocks, written ahead of the commands that read them
    if (this.slots) this.device.queue.writeBuffer(this.params, 0, this.blocks, 0, (this.slots * this.slotBytes) / 4);
    this.slots = 0;
    const prof = this.profiling;
    if (prof && this.encoder && prof.labels.length) {
      // the timestamps resolved into a buffer and read back after this submission, then summed by label
      const n = 2 * prof.labels.length;
      const resolved = this.device.createBuffer({ size: 8 * n, usage: QUERY_RESOLVE | COPY_SRC });
      const staging = this.device.createBuffer({ size: 8 * n, usage: MAP_READ | COPY_DST });
      this.encoder.resolveQuerySet(prof.set, 0, n, resolved, 0);
      this.encoder.copyBufferToBuffer(resolved, 0, staging, 0, 8 * n);
      const labels = prof.labels;
      prof.labels = [];
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      prof.pending.push(
        staging.mapAsync(MAP_MODE_READ).then(() => {
          const t = new BigUint64Array(staging.getMappedRange());
          labels.forEach((label, i) => {
            const e = (prof.totals[label] ??= { seconds: 0, calls: 0 });
            e.seconds += Number(t[2 * i + 1] - t[2 * i]) / 1e9;
            e.calls++;
          });
          staging.unmap();
          staging.destroy();
          resolved.destroy();
        }),
      );
    }
    if (this.encoder) this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    // each size class kept in order of buffer id, the oldest last: a step that allocates as the last one did
    // then gets the same buffers, so its bind groups are the kept ones
    const touched = new Set<GPUBuffer[]>();
    for (const p of this.pending) {
      let list = this.free.get(p.size);
      if (!list) this.free.set(p.size, (list = []));
      list.push(p.buffer);
      touched.add(list);
    }
    for (const list of touched) list.sort((a, b) => this.id(b) - this.id(a));
    this.pending = [];
  }

  /** Whether the device can time dispatches (the 'timestamp-query' feature). */
  get canProfile(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /** Starts timing every dispatch on the GPU (one compute pass each, so slower); throws without timestamp queries. */
  startProfile(): void {
    if (!this.canProfile) throw new VipLlavaError('this WebGPU device has no timestamp queries to profile with');
    this.submit();
    this.profiling ??= { set: this.device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_PAIRS }), labels: [], pending: [], totals: {} };
  }

  /** Stops timing and returns GPU seconds and dispatches per label since startProfile(). */
  async stopProfile(): Promise<Profile> {
    const prof = this.profiling;
    if (!prof) return {};
    this.submit();
    await Promise.all(prof.pending);
    this.profiling = null;
    prof.set.destroy();
    return prof.totals;
  }

  /** Resolves once everything recorded has run; throws what the GPU reported wrong meanwhile. */
  async flush(): Promise<void> {
    this.submit();
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  /** `bytes` bytes of a buffer from `offset`, after everything recorded before has run. */
  async readBytes(buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.staging.get(size)?.pop() ?? this.device.createBuffer({ size: Math.max(4, size), usage: MAP_READ | COPY_DST });
    if (size) this.copy(buffer, offset, staging, 0, size);
    this.submit();
    try {
      await staging.mapAsync(MAP_MODE_READ);
      const out = staging.getMappedRange().slice(0, bytes);
      staging.unmap();
      // kept for the next read of this size (a decode step reads the same logits every time)
      const kept = this.staging.get(size) ?? [];
      if (kept.length < 4) kept.push(staging);
      else staging.destroy();
      this.staging.set(size, kept);
      return out;
    } finally {
      this.check();
    }
  }

  /** Throws (once) what the device reported since the last check. */
  private check(): void {
    const failure = this.failure;
    this.failure = null;
    if (failure) throw new VipLlavaError(`the WebGPU device reported an error: ${failure}`);
  }
}

/** Workgroups as (x, y) with x within the per-dimension limit. */
function grid(groups: number): [number, number] {
  if (groups <= MAX_GROUPS) return [groups, 1];
  const y = Math.ceil(groups / MAX_GROUPS);
  return [Math.ceil(groups / y), y];
}

/** Buffer sizes in eighths of a power of two (at least 256 bytes), so that freed buffers fit later requests. */
function sizeClass(bytes: number): number {
  const n = Math.max(256, Math.ceil(bytes / 4) * 4);
  let p = 256;
  while (p < n) p *= 2;
  const step = Math.max(256, p / 8);
  return Math.ceil(n / step) * step;
}

/**
 * Workgroups for kernels that number them `wid.y · 65535 + wid.x` (one per row or item): rows of exactly
 * MAX_GROUPS, so that the shader can rebuild the index without knowing the grid.
 */
export function rowGrid(n: number): [number, number] {
  return [Math.min(n, MAX_GROUPS), Math.ceil(n / MAX_GROUPS)];
}

const shaders = new Map<string, string>();
/**
 * A shader's text made once per key (the op and the choices its text depends on), so that a dispatch neither
 * rebuilds kilobytes of WGSL nor hashes a fresh copy of them to find its pipeline.
 */
export function shader(key: string, make: () => string): string {
  let code = shaders.get(key);
  if (code === undefined) shaders.set(key, (code = make()));
  return code;
}

/** The bit pattern of an f32, as a parameter word. */
export function f32Bits(v: number): number {
  return new Uint32Array(Float32Array.of(v).buffer)[0];
}

/** The flat index of a thread in a grid made by grid() (WGSL, for the one-dimensional kernels). */
export const FLAT_INDEX = /* wgsl */ `
fn flat(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * ${THREADS}u + lid;
}`;
