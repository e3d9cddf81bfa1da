// The install script's first step: exits 0 when this installed package ships a prebuilt native engine for this
// platform (prebuilds/<platform>-<arch>/, made by tools/prebuild.ts at `npm pack`) and it loads here, so that
// `npm install` need not compile; otherwise 1, and the install script builds the engine from source. A checkout
// (a package not under node_modules) always builds from source, and so does `npm install --build-from-source`.
import { createRequire } from 'node:module';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const installed = root.split(sep).includes('node_modules');
if (!installed || process.env.npm_config_build_from_source === 'true') process.exit(1);
process.env.PREBUILDS_ONLY = '1'; // node-gyp-build then looks in prebuilds/ alone
try {
  const file = createRequire(import.meta.url)('node-gyp-build').path(root);
  createRequire(import.meta.url)(file);
  console.log(`vipllava: using the prebuilt native engine ${file.slice(root.length)}`);
} catch (e) {
  console.log(`vipllava: no prebuilt native engine loads here (${e.message.split('\n')[0]}); building it from source`);
  process.exit(1);
}
