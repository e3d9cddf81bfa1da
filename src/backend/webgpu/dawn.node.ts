/**
 * A WebGPU device in Node, through Dawn (the optional `webgpu` package). Without a named backend, Dawn's are
 * tried in turn, Vulkan then OpenGL ES (at the compatibility feature level, over EGL without a display: Mesa's
 * llvmpipe on a machine with no GPU), and the first adapter that comes is taken. `backend` (or
 * $VIPLLAVA_WEBGPU_BACKEND) names one. The device is made as device.ts makes it in a browser.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { VipLlavaError } from '../../errors.js';
import { adapterName, requestDevice } from './device.js';

export const WEBGPU_BACKENDS = ['vulkan', 'opengles'] as const;
export type WebGPUBackendName = (typeof WEBGPU_BACKENDS)[number];

/** Why the `webgpu` package cannot load here, or null when it can. */
export function dawnUnavailable(): string | null {
  try {
    createRequire(import.meta.url).resolve('webgpu');
    return null;
  } catch {
    return 'the optional "webgpu" package (Dawn) is not installed';
  }
}

/** Whether a Vulkan loader is installed where the dynamic linker looks (Dawn warns loudly when it is not). */
function vulkanLoader(): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/lib64', '/lib', '/usr/local/lib'];
  return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

export interface DawnDevice {
  device: GPUDevice;
  /** Which Dawn backend and adapter: for info() and describe(). */
  label: string;
  backend: WebGPUBackendName;
}

/** The Dawn instances that gave a device: one collected while its device lives takes the device down with it. */
const instances: GPU[] = [];

export async function dawnDevice(backend?: string): Promise<DawnDevice> {
  const why = dawnUnavailable();
  if (why) throw new VipLlavaError(`device "webgpu" is not available: ${why}`);
  const named = backend ?? (process.env.VIPLLAVA_WEBGPU_BACKEND || undefined);
  if (named !== undefined && !(WEBGPU_BACKENDS as readonly string[]).includes(named)) {
    throw new VipLlavaError(`the WebGPU backend must be one of ${WEBGPU_BACKENDS.join(', ')}, got "${named}"`);
  }
  const order = (named ? [named] : WEBGPU_BACKENDS) as WebGPUBackendName[];
  const { create, globals } = (await import('webgpu')) as unknown as { create: (flags: string[]) => GPU; globals: object };
  Object.assign(globalThis, globals);
  const tried: string[] = [];
  for (const b of order) {
    if (b === 'vulkan' && !named && !vulkanLoader()) {
      tried.push('vulkan: no Vulkan loader (libvulkan.so.1)');
      continue;
    }
    // GLES goes through EGL, which needs a platform when no display is set
    if (b === 'opengles' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) process.env.EGL_PLATFORM ??= 'surfaceless';
    // $VIPLLAVA_DAWN_FLAGS: more of Dawn's instance flags, separated by spaces (e.g. enable-dawn-features=a,b)
    const extra = (process.env.VIPLLAVA_DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean);
    const gpu = create([`backend=${b}`, ...extra]);
    const adapter = await gpu.requestAdapter(b === 'opengles' ? ({ featureLevel: 'compatibility' } as GPURequestAdapterOptions) : { powerPreference: 'high-performance' });
    if (!adapter) {
      tried.push(`${b}: no adapter`);
      continue;
    }
    // $VIPLLAVA_WEBGPU_SUBGROUP_MATRIX=1: the GEMM on subgroup matrices where the adapter has them (opt-in);
    // $VIPLLAVA_WEBGPU_SUBGROUPS=0: the kernels without subgroups (side-by-side runs)
    const env = process.env;
    const device = await requestDevice(adapter, { subgroups: env.VIPLLAVA_WEBGPU_SUBGROUPS !== '0', subgroupMatrices: env.VIPLLAVA_WEBGPU_SUBGROUP_MATRIX === '1' });
    instances.push(gpu);
    return { device, backend: b, label: `Dawn ${b}, ${adapterName(adapter)}` };
  }
  throw new VipLlavaError(`device "webgpu" is not available: no WebGPU adapter (${tried.join('; ')})`);
}
