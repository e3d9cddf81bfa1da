// Run by `npm install` when node-gyp could not build the native CPU engine. The install still succeeds (the
// reference engine runs everywhere), but npm hides install output, so the failure is recorded where the library
// finds it: the first load then says why it runs on the slow engine, and `vipllava info` names the engine.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const build = fileURLToPath(new URL('../build/', import.meta.url));
const message = 'the native engine failed to build at npm install (run "npm run build:native" to see why)';
mkdirSync(build, { recursive: true });
writeFileSync(`${build}native-build-failed.txt`, `${message}\n`);
console.warn(`vipllava: ${message}; the library will run on the reference TypeScript kernels`);
