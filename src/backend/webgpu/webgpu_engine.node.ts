/** The WebGPU engine as the registry sees it in Node: Dawn's device when the `webgpu` package loads. */
import type { Engine } from '../engine.js';
import { dawnDevice, dawnUnavailable } from './dawn.node.js';
import { WebGPUBackend } from './webgpu_backend.js';

export const webgpuEngine: Engine = {
  name: 'webgpu',
  device: 'webgpu',
  unavailable: dawnUnavailable,
  create: async () => {
    const d = await dawnDevice();
    return new WebGPUBackend(d.device, { adapterLabel: d.label });
  },
};
