/** The native CPU engine as the registry sees it: available when the addon loads. */
import type { Engine } from '../engine.js';
import { nativeAddon, nativeFailure } from './native_addon.node.js';
import { NativeBackend } from './native_backend.node.js';

export const nativeEngine: Engine = {
  name: 'native',
  device: 'cpu',
  unavailable: () => (nativeAddon() ? null : nativeFailure()),
  create: ({ threads }) => new NativeBackend({ threads }),
};
