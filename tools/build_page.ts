/**
 * Bundles the drawing page (src/page) for `vipllava serve`: esbuild turns src/page/main.ts and the library's
 * browser-safe core it imports into one ES module, dist/page/page/app.js, next to dist/page/index.html. Run by
 * `npm install` (the prepare script) and `npm run build:page`.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = join(root, 'dist', 'page');
mkdirSync(join(out, 'page'), { recursive: true });
copyFileSync(join(root, 'src', 'page', 'index.html'), join(out, 'index.html'));
await build({
  entryPoints: [join(root, 'src', 'page', 'main.ts')],
  outfile: join(out, 'page', 'app.js'),
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
console.log(`page bundled into ${out}`);
