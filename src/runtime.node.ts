/**
 * What Node adds to the core, installed once when index.node.ts is imported: checkpoints opened from folders
 * and the Hugging Face cache (downloading what is missing), images decoded by sharp, repacked weights kept on
 * disk, the native CPU engine, and the WebGPU engine through Dawn (when the optional `webgpu` package is there).
 */
import { nativeEngine } from './backend/cpu/native_engine.node.js';
import { webgpuEngine } from './backend/webgpu/webgpu_engine.node.js';
import { registerEngine } from './backend/registry.js';
import { Snapshot } from './hub/resolve.js';
import { setCheckpointOpener } from './io/checkpoint.js';
import { setImageCodec } from './processor/image.js';
import { sharpCodec } from './processor/sharp_codec.node.js';
import { setDefaultPackedCache } from './vipllava.js';
import { diskPackedCache } from './weights/packed_cache.node.js';

setCheckpointOpener((pathOrId, options) => Snapshot.open(pathOrId, options));
setImageCodec(sharpCodec);
setDefaultPackedCache(diskPackedCache);
registerEngine(nativeEngine);
registerEngine(webgpuEngine);
