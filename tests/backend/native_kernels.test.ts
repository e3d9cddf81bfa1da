/**
 * The kernel-level test program (native/test/kernel_test.cc), which checks every kernel set against the portable
 * one op by op: built for this CPU from the sources and flags binding.gyp gives (every set the CPU runs, plus the
 * AVX-VNNI kernels with vpdpbusd emulated on AVX2), and cross-compiled for ARM64 with Debian's aarch64 toolchain
 * and run under qemu-aarch64 as three CPUs: Cortex-A53 (plain NEON), Cortex-A76 (dotprod) and qemu's "max"
 * (i8mm, bf16). Without the toolchain or qemu the ARM half is skipped, saying so, unless
 * $VIPLLAVA_REQUIRE_ARM_TESTS is set (CI sets it). Binaries are cached by a hash of their sources and flags.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, symlinkSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { nativeAddon } from '../../src/backend/cpu/native_addon.node.js';
import { ROOT } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/checkpoints.js';

interface GypTarget {
  target_name: string;
  sources: string[];
  cflags_cc?: string[];
}
interface Gyp {
  variables: { vip_cflags: string[] };
  targets: GypTarget[];
  conditions: Array<[string, { targets: GypTarget[] }]>;
}

const gyp = JSON.parse(readFileSync(join(ROOT, 'binding.gyp'), 'utf8')) as Gyp;

/** One compilation: a source and its extra flags. */
interface Unit {
  source: string;
  flags: string[];
}

/** The engine's sources (the addon's Node-API file left out) and the kernel sets of `gypArch` with their flags. */
function units(gypArch: 'x64' | 'arm64'): Unit[] {
  const main = gyp.targets[0].sources.filter((s) => !s.endsWith('addon.cc')).map((source) => ({ source, flags: [] }));
  const kernels = gyp.conditions.find(([cond]) => cond === `target_arch=='${gypArch}'`)![1].targets;
  const sets = kernels.flatMap((t) => t.sources.map((source) => ({ source, flags: (t.cflags_cc ?? []).filter((f) => f.startsWith('-m')) })));
  const test: Unit[] = [{ source: 'native/test/kernel_test.cc', flags: gypArch === 'x64' ? ['-DVIP_TEST_EMULATED_VNNI'] : [] }];
  if (gypArch === 'x64') test.push({ source: 'native/test/kernels_avxvnni_emulated.cc', flags: ['-mavx2', '-mfma', '-mf16c'] });
  return [...main, ...sets, ...test];
}

function run(cmd: string, args: string[], { cwd = ROOT, env = process.env } = {}): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, env });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (status) => resolve({ status, out }));
  });
}

/** Builds kernel_test with `cxx` (two compilations at a time), or reuses the binary of the same sources. */
async function build(cxx: string, gypArch: 'x64' | 'arm64', extra: string[]): Promise<string> {
  const define = gypArch === 'x64' ? '-DVIP_X86=1' : '-DVIP_ARM64=1';
  const common = [...gyp.variables.vip_cflags.filter((f) => f !== '-O3'), '-O2', define, '-Inative/src'];
  const list = units(gypArch);
  const hash = createHash('sha256').update(JSON.stringify([cxx, common, extra, list]));
  const included = ['kernels.h', 'ops.h', 'pack.h', 'runtime.h', 'kernels_generic.inc', 'kernels_avx2.inc', 'kernels_neon.inc'].map((f) => `native/src/${f}`);
  for (const f of [...list.map((u) => u.source), ...included]) hash.update(readFileSync(join(ROOT, f)));
  const dir = join(ROOT, 'build', 'kernel_test', `${gypArch}-${hash.digest('hex').slice(0, 16)}`);
  const exe = join(dir, 'kernel_test');
  if (existsSync(exe)) return exe;
  mkdirSync(dir, { recursive: true });
  const objects: string[] = [];
  const queue = list.map((u, i) => async () => {
    const obj = join(dir, `${i}.o`);
    const r = await run(cxx, [...common, ...u.flags, '-c', u.source, '-o', obj]);
    assert.equal(r.status, 0, `${cxx} ${u.source}:\n${r.out}`);
    objects[i] = obj;
  });
  await Promise.all([0, 1].map(async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await job();
  }));
  const link = await run(cxx, [...objects, '-pthread', ...extra, '-o', `${exe}.partial`]);
  assert.equal(link.status, 0, `linking kernel_test:\n${link.out}`);
  renameSync(`${exe}.partial`, exe);
  return exe;
}

/** The kernel sets a run reports as passed, and the whole report. */
function passed(out: string): string[] {
  return [...out.matchAll(/^ok (\S+):/gm)].map((m) => m[1]);
}

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
// The programs do not depend on the engine the suite runs the model on: they run in the native pass.
const referencePass = process.env.VIPLLAVA_ENGINE === 'reference';

describe('kernel-level tests, every kernel set against the portable one', { skip: referencePass && 'they ran in the native pass of the suite' }, () => {
  const hostArch = arch() === 'x64' ? 'x64' : arch() === 'arm64' ? 'arm64' : null;

  test(`this CPU (${arch()}): every kernel set it runs`, { skip: !hostArch && `no kernel sets for ${arch()}`, timeout: 600_000 }, async (t) => {
    const exe = await build(process.env.CXX ?? 'g++', hostArch!, []);
    const r = await run(exe, []);
    t.diagnostic(r.out.trim());
    assert.equal(r.status, 0, r.out);
    const supported = nativeAddon()?.info().kernelSets ?? [];
    for (const isa of supported) assert.ok(passed(r.out).includes(isa), `${isa} was not tested:\n${r.out}`);
    if (hostArch === 'x64' && supported.includes('avx2')) assert.ok(passed(r.out).includes('avxvnni-emulated'), r.out);
  });

  const cross = 'aarch64-linux-gnu-g++';
  const missing = [cross, 'qemu-aarch64'].filter((c) => !has(c));
  const required = Boolean(process.env.VIPLLAVA_REQUIRE_ARM_TESTS);
  test('ARM64 under qemu-aarch64: plain NEON, dotprod, i8mm + bf16', { skip: missing.length > 0 && !required && `${missing.join(' and ')} not installed (apt-get install g++-aarch64-linux-gnu qemu-user)`, timeout: 900_000 }, async (t) => {
    assert.deepEqual(missing, [], `$VIPLLAVA_REQUIRE_ARM_TESTS is set but ${missing.join(' and ')} is missing`);
    const exe = await build(cross, 'arm64', ['-static']);
    const cpus: Array<[string, string[], string[]]> = [
      ['cortex-a53', ['neon', 'portable'], ['neon-i8mm', 'neon-dotprod']],
      ['cortex-a76', ['neon-dotprod', 'neon', 'portable'], ['neon-i8mm']],
      ['max', ['neon-i8mm', 'neon-dotprod', 'neon', 'portable'], []],
    ];
    for (const [cpu, sets, absent] of cpus) {
      const r = await run('qemu-aarch64', ['-cpu', cpu, exe]);
      t.diagnostic(`qemu-aarch64 -cpu ${cpu}:\n${r.out.trim()}`);
      assert.equal(r.status, 0, `${cpu}:\n${r.out}`);
      assert.deepEqual(passed(r.out), sets, `${cpu}:\n${r.out}`);
      if (absent.length > 0) assert.match(r.out, new RegExp(`not run: ${absent.join(', ')} \\(this CPU lacks their instructions\\)`), r.out);
    }
  });

  // npm runs the tests with its node-gyp on the PATH (and $npm_config_node_gyp set)
  const nodeGyp = process.env.npm_config_node_gyp ?? (has('node-gyp') ? 'node-gyp' : '');
  test('the addon builds for linux-arm64 through node-gyp and binding.gyp', { skip: (missing.includes(cross) || !nodeGyp) && !required && `needs ${cross} and node-gyp`, timeout: 600_000 }, async () => {
    const dir = tempDir('arm64-addon');
    cpSync(join(ROOT, 'binding.gyp'), join(dir, 'binding.gyp'));
    cpSync(join(ROOT, 'native'), join(dir, 'native'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const [cmd, ...pre] = nodeGyp.endsWith('.js') ? [process.execPath, nodeGyp] : [nodeGyp];
    const r = await run(cmd, [...pre, 'rebuild', '--arch=arm64', '-j', '2'], {
      cwd: dir, env: { ...process.env, CC: 'aarch64-linux-gnu-gcc', CXX: cross, LINK: cross, AR: 'aarch64-linux-gnu-ar' },
    });
    assert.equal(r.status, 0, r.out.slice(-4000));
    const elf = readFileSync(join(dir, 'build', 'Release', 'vipllava_native.node'));
    assert.equal(elf.readUInt16LE(18), 183, 'the addon is not an AArch64 ELF file'); // e_machine EM_AARCH64
  });
});
