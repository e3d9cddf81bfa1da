/**
 * The one place that knows the engines. `createBackend()` picks one for a device: an explicit choice, else
 * $VIPLLAVA_ENGINE, else the fastest that runs here, saying once when the native engine cannot load. The
 * reference engine is always here; the Node entry (index.node.ts) registers the native one and the WebGPU
 * engine (device "webgpu", through Dawn). Factories are asynchronous, as a GPU adapter request is.
 */
import { oneOf, positiveInteger } from '../checks.js';
import { VipLlavaError } from '../errors.js';
import { env, warn } from '../platform.js';
import { DEVICES, ENGINE_NAMES, type Device, type EngineName } from '../vocabulary.js';
import type { Backend } from './backend.js';
import type { BackendOptions, Engine } from './engine.js';
import { ReferenceBackend } from './cpu/reference_backend.js';
import { browserWebgpuEngine } from './webgpu/browser_engine.js';

export type { BackendOptions, Engine } from './engine.js';

const engines = new Map<string, Engine>();

/** Adds an engine (the Node entry adds the native one); a later registration of a name replaces it. */
export function registerEngine(engine: Engine): void {
  engines.set(engine.name, engine);
}

registerEngine({ name: 'reference', device: 'cpu', unavailable: () => null, create: () => new ReferenceBackend() });
registerEngine(browserWebgpuEngine); // Node's entry replaces it with Dawn's

/** The registered engines for a device that cannot run here, each with the reason. */
export function unavailableEngines(device: Device = 'cpu'): { name: string; why: string }[] {
  return [...engines.values()].filter((e) => e.device === device).flatMap((e) => {
    const why = e.unavailable();
    return why === null ? [] : [{ name: e.name, why }];
  });
}

let warnedNoNative = false;

/** The options checked, the engine name resolved from $VIPLLAVA_ENGINE where the caller left it to "auto". */
export function checkBackendOptions(o: BackendOptions, name: (option: string) => string = (s) => s): Required<Pick<BackendOptions, 'device' | 'engine'>> & BackendOptions {
  const given = oneOf(o.engine ?? 'auto', ENGINE_NAMES, name('engine'));
  // $VIPLLAVA_DEVICE is the default device where neither a device nor a CPU engine was asked for
  const fromEnvDevice = o.device === undefined && given === 'auto' ? env('VIPLLAVA_DEVICE') || undefined : undefined;
  const device = fromEnvDevice === undefined ? oneOf(o.device ?? 'cpu', DEVICES, name('device')) : oneOf(fromEnvDevice, DEVICES, '$VIPLLAVA_DEVICE');
  // $VIPLLAVA_ENGINE picks among the CPU engines; a GPU device has its own
  const fromEnv = given === 'auto' && device === 'cpu' ? env('VIPLLAVA_ENGINE') || undefined : undefined;
  const engine = fromEnv === undefined ? given : oneOf(fromEnv, ENGINE_NAMES, '$VIPLLAVA_ENGINE');
  if (o.threads !== undefined) positiveInteger(o.threads, name('threads'));
  return { ...o, device, engine };
}

export async function createBackend(options: BackendOptions = {}): Promise<Backend> {
  const { device, engine, threads } = checkBackendOptions(options);
  if (device !== 'cpu') {
    if (engine !== 'auto') throw new VipLlavaError(`engine "${engine}" runs on the CPU, not on device "${device}"`);
    const candidates = [...engines.values()].filter((e) => e.device === device);
    const gpu = candidates.find((e) => e.unavailable() === null);
    if (!gpu) {
      const why = candidates.map((e) => e.unavailable()).join('; ') || 'no engine for it is registered in this runtime';
      throw new VipLlavaError(`device "${device}" is not available: ${why}`);
    }
    return gpu.create({ device, threads });
  }
  const native = engines.get('native');
  if (engine === 'reference') return engines.get('reference')!.create({ threads });
  if (engine === 'native') {
    if (!native) throw new VipLlavaError('the native CPU engine is not available: it runs in Node only');
    return native.create({ threads });
  }
  const why = native ? native.unavailable() : null;
  if (native && why === null) return native.create({ threads });
  if (native && !warnedNoNative) {
    warnedNoNative = true;
    warn(`the native CPU engine is not available (${why}); running on the reference TypeScript kernels, which are far slower`, 'VIPLLAVA_NO_NATIVE');
  }
  return engines.get('reference')!.create({ threads });
}
