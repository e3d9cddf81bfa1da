/**
 * The public API in Node (the "node" export condition: what `import 'vipllava'` gives there): the core, with
 * checkpoints from folders and the Hugging Face cache, images decoded and saved by sharp, repacked weights
 * kept on disk, and the native CPU engine, all installed on import.
 */
import './runtime.node.js';

export * from './index.js';
export { encodePng, saveImage } from './processor/sharp_codec.node.js';
export { FileSource } from './io/file_source.node.js';
export { convertCheckpoint, type ConvertOptions, type ConvertResult } from './weights/convert.node.js';
export { DEFAULT_MODEL, PAGE_DIR, SYNTHETIC_DATA, packageVersion } from './package_paths.node.js';
