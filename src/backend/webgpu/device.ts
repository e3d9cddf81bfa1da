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
const FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'];

export async function requestDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const requiredLimits: Record<string, number> = {};
  for (const l of LIMITS) requiredLimits[l] = adapter.limits[l];
  const requiredFeatures = FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  return adapter.requestDevice({ requiredLimits, requiredFeatures });
}

/** The adapter as info() and describe() name it. */
export function adapterName(adapter: GPUAdapter): string {
  const info = adapter.info;
  return [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
}
