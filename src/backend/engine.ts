/** What the registry (registry.ts) knows of an engine, and the options it builds one with. */
import type { Device, EngineName } from '../vocabulary.js';
import type { Backend } from './backend.js';

export interface BackendOptions {
  /** Where to run (default "cpu"). */
  device?: Device;
  /** Which CPU engine (default "auto": $VIPLLAVA_ENGINE if set, else native when it loads). */
  engine?: EngineName;
  /** Compute threads of the native engine (default: the physical cores). */
  threads?: number;
}

/** An engine this runtime can build. */
export interface Engine {
  /** 'native' and 'reference' run on the CPU; a device's engine is named for it ('webgpu'). */
  name: Exclude<EngineName, 'auto'> | 'webgpu';
  device: Device;
  /** Why it cannot run here, or null when it can. */
  unavailable(): string | null;
  create(options: BackendOptions): Promise<Backend> | Backend;
}
