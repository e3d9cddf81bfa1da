/**
 * The package as someone else's project gets it: `npm pack` in a copy of this checkout (its prepack,
 * tools/prebuild.ts, builds the prebuilt engines), the tarball installed into an empty project with
 * `npm install --ignore-scripts` (no compiler, no install script: what npm 11 does for a dependency it was not told
 * to trust), and there `vipllava info` and `generate` run on the native engine from prebuilds/. The x64 binary
 * also loads under qemu-x86_64 as a CPU without AVX, picking the portable kernels; the cross-compiled one for the
 * other architecture is checked to be an ELF file for it. Without that cross toolchain the package has the host's
 * binary only, and the test says so, unless $VIPLLAVA_REQUIRE_ARM_TESTS is set (CI sets it).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/checkpoints.js';

/** The cross compiler tools/prebuild.ts uses for each architecture, and the ELF machine (e_machine) it emits. */
const CROSS: Record<string, { cxx: string; machine: number }> = {
  x64: { cxx: 'x86_64-linux-gnu-g++', machine: 62 },
  arm64: { cxx: 'aarch64-linux-gnu-g++', machine: 183 },
};
const host = arch();
const other = host === 'x64' ? 'arm64' : 'x64';
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** The environment of a user's shell: no engine chosen or disabled by this suite's variables. */
const userEnv: NodeJS.ProcessEnv = { ...process.env };
for (const v of ['VIPLLAVA_ENGINE', 'VIPLLAVA_NO_NATIVE', 'VIPLLAVA_DEVICE', 'VIPLLAVA_ISA']) delete userEnv[v];

function run(cmd: string, args: string[], cwd: string, timeout: number): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, env: userEnv, timeout, killSignal: 'SIGKILL' });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', (e) => resolve({ status: null, out, err: `${cmd}: ${e.message}` }));
    p.on('close', (status) => resolve({ status, out, err }));
  });
}

/** npm itself: the one running this suite where it does, else the one on the PATH. */
function npm(args: string[], cwd: string, timeout: number) {
  const cli = process.env.npm_execpath;
  return cli?.endsWith('.js') ? run(process.execPath, [cli, ...args], cwd, timeout) : run('npm', args, cwd, timeout);
}

/** A copy of the checkout to pack (sources and dist/, this node_modules linked), so packing leaves this one alone. */
function copyCheckout(): string {
  const dir = join(tempDir('pack'), 'vipllava');
  const skip = new Set(['.git', 'node_modules', 'build', 'prebuilds']);
  cpSync(ROOT, dir, { recursive: true, filter: (src) => !skip.has(relative(ROOT, src)) && !src.endsWith('.tgz') });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

// the reference and WebGPU passes of npm test would only repeat it
const laterPass = process.env.VIPLLAVA_ENGINE === 'reference' || process.env.VIPLLAVA_DEVICE === 'webgpu';
const unsupported = platform() !== 'linux' || !(host in CROSS);
const crossMissing = !has(CROSS[other].cxx);
const required = Boolean(process.env.VIPLLAVA_REQUIRE_ARM_TESTS);

test('npm pack ships prebuilt engines, and an install with --ignore-scripts runs on the native one', {
  skip: (laterPass && 'the package is packed and installed once, in the native pass of the suite') ||
    (unsupported && `prebuilt engines are made for linux-x64 and linux-arm64, not ${platform()}-${host}`),
  timeout: 900_000,
}, async (t) => {
  assert.ok(!(required && crossMissing), `$VIPLLAVA_REQUIRE_ARM_TESTS is set but ${CROSS[other].cxx} is missing`);
  const checkout = copyCheckout();
  const packed = join(checkout, '..', 'packed');
  mkdirSync(packed);
  const pack = await npm(['pack', '--ignore-scripts=false', '--pack-destination', packed], checkout, 600_000);
  assert.equal(pack.status, 0, `npm pack:\n${(pack.out + pack.err).slice(-6000)}`);
  t.diagnostic(`${pack.out}\n${pack.err}`.split('\n').filter((l) => l.startsWith('vipllava prebuild:')).join('\n'));
  const [tarball] = readdirSync(packed).filter((f) => f.endsWith('.tgz'));
  assert.ok(tarball, `npm pack wrote no tarball:\n${pack.out.slice(-2000)}`);

  const app = join(checkout, '..', 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  // --prefer-offline: the tarball's dependencies come from npm's cache (filled by this checkout's install) where they can
  const install = await npm(['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', join(packed, tarball)], app, 300_000);
  assert.equal(install.status, 0, `npm install:\n${(install.out + install.err).slice(-4000)}`);

  const pkg = join(app, 'node_modules', 'vipllava');
  assert.equal(existsSync(join(pkg, 'build')), false, 'nothing was built at install (no install script ran)');
  const binary = (a: string) => {
    const dir = join(pkg, 'prebuilds', `linux-${a}`);
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
    return files.length === 1 ? join(dir, files[0]) : null;
  };
  for (const a of crossMissing ? [host] : [host, other]) {
    const file = binary(a);
    assert.ok(file, `the package has no linux-${a} prebuilt`);
    assert.equal(readFileSync(file).readUInt16LE(18), CROSS[a].machine, `${file} is not an ELF file for ${a}`);
  }
  if (crossMissing) t.diagnostic(`${CROSS[other].cxx} is not installed: the package has no linux-${other} prebuilt`);

  const cli = join(pkg, 'dist', 'src', 'cli', 'main.js');
  const info = await run(process.execPath, [cli, 'info'], app, 60_000);
  assert.equal(info.status, 0, info.err);
  assert.match(info.out, /^engine +native, /m, `the installed package does not run on the native engine:\n${info.out}\n${info.err}`);
  const image = join(pkg, 'data', 'synthetic', 'heldout', '0000.png');
  const answer = await run(process.execPath, [cli, 'generate', '--engine', 'native', '--image', image, '--box', '10,10,100,100', '--prompt', 'What colour is the shape within the red rectangle?', '--max-new-tokens', '4'], app, 120_000);
  assert.equal(answer.status, 0, answer.err);
  assert.notEqual(answer.out.trim(), '', 'the shipped model answered nothing');

  if (host === 'x64' && (has('qemu-x86_64') || required)) {
    // Nehalem: SSE4.2 but no AVX; the binary must load there and choose the portable kernels
    const old = await run('qemu-x86_64', ['-cpu', 'Nehalem', process.execPath, cli, 'info'], app, 120_000);
    assert.equal(old.status, 0, old.err);
    assert.match(old.out, /^engine +native, portable kernels/m, old.out);
  } else if (host === 'x64') {
    t.diagnostic('qemu-x86_64 is not installed (apt-get install qemu-user): the x64 binary was not loaded on a CPU without AVX');
  }

  // without its prebuilt the same install falls back to the reference engine and says why
  renameSync(join(pkg, 'prebuilds'), join(pkg, 'prebuilds-gone'));
  const without = await run(process.execPath, [cli, 'info'], app, 60_000);
  assert.equal(without.status, 0, without.err);
  assert.match(without.out, /^engine +reference .*native engine not available: No native build was found for platform=linux arch=/m, without.out);
});
