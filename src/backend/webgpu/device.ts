/**
 * A device from a WebGPU adapter, wherever the adapter came from (Dawn in Node, navigator.gpu in a browser): the
 * adapter's real limits (WebGPU's defaults are far below what a model needs) and the features it offers that the
 * engine can use.
 */
const LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
] as const;
const FEATURES = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'];

/** A subgroup-matrix shape the adapter multiplies (Dawn's GPUAdapterInfo.subgroupMatrixConfigs). */
export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}
/** What the kernels may assume of a device's subgroups, from its adapter. */
export interface Subgroups {
  /** The adapter's smallest and largest subgroup sizes ([0, 0] without the 'subgroups' feature). */
  sizes: [number, number];
  /** The subgroup-matrix shapes it multiplies (none unless the feature was asked for and given). */
  matrices: SubgroupMatrixConfig[];
}
const subgroupInfo = new WeakMap<GPUDevice, Subgroups>();

export function subgroups(device: GPUDevice): Subgroups {
  return subgroupInfo.get(device) ?? { sizes: [0, 0], matrices: [] };
}

/**
 * `subgroupMatrices: true` asks for Dawn's experimental subgroup matrices too (the GEMM on them is correct on an
 * H200 but slower than the f32 one so far: opt-in); `subgroups: false` leaves subgroups off (a side-by-side run).
 */
export async function requestDevice(adapter: GPUAdapter, o: { subgroups?: boolean; subgroupMatrices?: boolean } = {}): Promise<GPUDevice> {
  const requiredLimits: Record<string, number> = {};
  for (const l of LIMITS) requiredLimits[l] = adapter.limits[l];
  const left = [...(o.subgroups === false ? ['subgroups'] : []), ...(o.subgroupMatrices ? [] : ['chromium-experimental-subgroup-matrix'])];
  const requiredFeatures = FEATURES.filter((f) => adapter.features.has(f) && !left.includes(f)) as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const info = adapter.info as GPUAdapterInfo & { subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[]; subgroupMinSize?: number; subgroupMaxSize?: number };
  const matrices = device.features.has('chromium-experimental-subgroup-matrix') ? [...(info.subgroupMatrixConfigs ?? [])].map((c) => ({ componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K })) : [];
  const sizes: [number, number] = device.features.has('subgroups') ? [info.subgroupMinSize ?? 0, info.subgroupMaxSize ?? 0] : [0, 0];
  subgroupInfo.set(device, { sizes, matrices });
  return device;
}

/** The adapter as info() and describe() name it. */
export function adapterName(adapter: GPUAdapter): string {
  const info = adapter.info;
  return [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
}
