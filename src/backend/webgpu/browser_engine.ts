/** The WebGPU engine where the runtime has navigator.gpu (browsers); Node registers Dawn's in its place. */
import { VipLlavaError } from '../../errors.js';
import type { Engine } from '../engine.js';
import { adapterName, requestDevice } from './device.js';
import { WebGPUBackend } from './webgpu_backend.js';

const gpu = (): GPU | undefined => (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;

export const browserWebgpuEngine: Engine = {
  name: 'webgpu',
  device: 'webgpu',
  unavailable: () => (gpu() ? null : 'this runtime has no navigator.gpu (WebGPU)'),
  create: async () => {
    const adapter = await gpu()!.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new VipLlavaError('device "webgpu" is not available: navigator.gpu gave no adapter');
    return new WebGPUBackend(await requestDevice(adapter), { adapterLabel: `navigator.gpu, ${adapterName(adapter)}` });
  },
};
