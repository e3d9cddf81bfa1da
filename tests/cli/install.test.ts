/**
 * A native build that fails at `npm install` is not silent: native/record_build_failure.mjs (the install script's
 * fallback) records it, and a copy of the package without the addon then names it in its warning and in `info`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, TINY_LLAMA } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/checkpoints.js';

test('a failed native build is recorded at install and named by the library', () => {
  const pkg = tempDir('install');
  mkdirSync(join(pkg, 'native'));
  cpSync(join(ROOT, 'native', 'record_build_failure.mjs'), join(pkg, 'native', 'record_build_failure.mjs'));
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(ROOT, 'dist', 'src'), join(pkg, 'dist', 'src'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
  assert.equal(existsSync(join(pkg, 'build', 'Release')), false, 'the copy has no addon');

  const install = spawnSync(process.execPath, [join(pkg, 'native', 'record_build_failure.mjs')], { encoding: 'utf8' });
  assert.equal(install.status, 0, 'the install itself still succeeds');
  assert.match(install.stderr, /native engine failed to build at npm install .*reference TypeScript kernels/);
  assert.match(readFileSync(join(pkg, 'build', 'native-build-failed.txt'), 'utf8'), /failed to build at npm install \(run "npm run build:native" to see why\)/);

  const env = { ...process.env, VIPLLAVA_ENGINE: '', VIPLLAVA_NO_NATIVE: '', VIPLLAVA_DEVICE: '' };
  const info = spawnSync(process.execPath, [join(pkg, 'dist', 'src', 'cli', 'main.js'), 'info', '--model', TINY_LLAMA], { encoding: 'utf8', env });
  assert.equal(info.status, 0, info.stderr);
  assert.match(info.stdout, /engine\s+reference \(TypeScript, fp32 compute\); native engine not available: the native engine failed to build at npm install/);
  assert.match(info.stderr, /\[VIPLLAVA_NO_NATIVE\] Warning: the native CPU engine is not available \(the native engine failed to build at npm install/);
});
