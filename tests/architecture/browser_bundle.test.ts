/**
 * Guards the browser entry point: src/index.ts must bundle for the browser (esbuild, platform
 * 'browser') without reaching a Node built-in, sharp or a *.node.ts file, however indirectly.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { build, type Plugin } from 'esbuild';
import { ROOT } from '../helpers/fixtures.js';

/** True for an import specifier that only Node can satisfy (`nodeFiles`: count *.node.ts files too). */
function isNodeOnly(spec: string, nodeFiles: boolean): boolean {
  return spec.startsWith('node:') || builtinModules.includes(spec) || spec === 'sharp' || spec.startsWith('sharp/') || (nodeFiles && /\.node\.[jt]s$/.test(spec));
}

/** Bundles `entry` for the browser; every Node-only import fails the build and is listed as 'importer → specifier'. */
async function bundleForBrowser(entry: string, nodeFiles = true): Promise<{ ok: boolean; nodeImports: string[]; errors: string[] }> {
  const nodeImports: string[] = [];
  const guard: Plugin = {
    name: 'no-node-imports',
    setup(b) {
      b.onResolve({ filter: /.*/ }, ({ path, importer, kind }) => {
        if (kind === 'entry-point' || !isNodeOnly(path, nodeFiles)) return undefined;
        nodeImports.push(`${relative(ROOT, importer)} → ${path}`);
        return { errors: [{ text: `Node-only import '${path}' in ${relative(ROOT, importer)}` }] };
      });
    },
  };
  try {
    await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', plugins: [guard] });
    return { ok: true, nodeImports, errors: [] };
  } catch (e) {
    const errors = (e as { errors?: { text: string }[] }).errors?.map((m) => m.text) ?? [String(e)];
    return { ok: false, nodeImports, errors };
  }
}

describe('browser bundle (esbuild)', () => {
  test('src/index.ts bundles for the browser without Node built-ins, sharp or *.node.ts files', async () => {
    const r = await bundleForBrowser(join(ROOT, 'src', 'index.ts'));
    assert.deepEqual(r.nodeImports, [], `Node-only imports reachable from src/index.ts:\n${r.nodeImports.join('\n')}`);
    assert.ok(r.ok, `esbuild failed:\n${r.errors.join('\n')}`);
  });

  test('the check bites deep: the Node entry, its *.node.ts files followed, reaches built-ins and sharp', async () => {
    const r = await bundleForBrowser(join(ROOT, 'src', 'index.node.ts'), false);
    assert.equal(r.ok, false);
    assert.ok(r.nodeImports.some((i) => /^src\/hub\/resolve\.ts → node:fs$/.test(i)), r.nodeImports.join('\n'));
    assert.ok(r.nodeImports.some((i) => /→ sharp$/.test(i)), r.nodeImports.join('\n'));
  });

  test('the check bites: an entry that imports src/index.node.ts does not bundle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipllava-bundle-'));
    try {
      const entry = join(dir, 'entry.ts');
      writeFileSync(entry, `export * from ${JSON.stringify(join(ROOT, 'src', 'index.node.ts'))};\n`);
      const r = await bundleForBrowser(entry);
      assert.equal(r.ok, false);
      assert.match(r.errors.join('\n'), /Node-only import '(node:[\w/]+|[^']*\.node\.[jt]s)'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
