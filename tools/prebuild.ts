/**
 * The prebuilt native engines the package ships (npm pack and npm publish run this as the prepack script):
 * prebuildify builds binding.gyp as Node-API binaries into prebuilds/<platform>-<arch>/, for this machine's
 * architecture and, on Linux, for the other of x64 and arm64 with Debian's cross toolchain when it is installed
 * (g++-aarch64-linux-gnu on x86-64). node-gyp-build loads them (src/backend/cpu/native_addon.node.ts), so an
 * install needs neither a compiler nor npm's approval of install scripts. Each architecture builds in its own
 * folder under build/prebuild/, leaving the checkout's own build/Release alone.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, availableParallelism, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const prebuildify = createRequire(import.meta.url).resolve('prebuildify/bin.js');

/** Debian's cross toolchains by target architecture, and the ELF machine (e_machine) each one emits. */
const CROSS: Record<string, { prefix: string; apt: string; machine: number }> = {
  x64: { prefix: 'x86_64-linux-gnu', apt: 'g++-x86-64-linux-gnu', machine: 62 },
  arm64: { prefix: 'aarch64-linux-gnu', apt: 'g++-aarch64-linux-gnu', machine: 183 },
};

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/**
 * The environment a build runs in: all cores, this Node's own headers where npm names none, the cross compilers,
 * and binding.gyp's flags alone (a CXXFLAGS=-march=native in this shell must not reach a binary for other CPUs).
 */
function buildEnv(cross: string | null): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, JOBS: String(availableParallelism()) };
  for (const flags of ['CFLAGS', 'CXXFLAGS', 'CPPFLAGS', 'LDFLAGS']) delete env[flags];
  const prefix = dirname(dirname(process.execPath));
  if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;
  if (cross) Object.assign(env, { CC: `${cross}-gcc`, CXX: `${cross}-g++`, LINK: `${cross}-g++`, AR: `${cross}-ar` });
  return env;
}

/** Builds prebuilds/<platform>-<arch>/ with prebuildify; `cross` is the toolchain prefix when not this machine's. */
function build(targetArch: string, cross: string | null): string {
  const dir = join(root, 'build', 'prebuild', targetArch);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(join(root, 'binding.gyp'), join(dir, 'binding.gyp'));
  cpSync(join(root, 'native', 'src'), join(dir, 'native', 'src'), { recursive: true });
  const name = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string }).name;
  const args = [prebuildify, '--napi', '--strip', '--tag-libc', '--arch', targetArch, '--target', process.versions.node,
    '--name', name, '--cwd', dir, '--out', root, '--node-gyp', process.env.npm_config_node_gyp ?? 'node-gyp',
    '--strip-bin', cross ? `${cross}-strip` : 'strip'];
  console.log(`vipllava prebuild: building ${platform()}-${targetArch}${cross ? ` with ${cross}-g++` : ''}`);
  const r = spawnSync(process.execPath, args, { cwd: dir, env: buildEnv(cross), stdio: 'inherit' });
  if (r.status !== 0) {
    const hint = process.env.npm_config_node_gyp ? '' : '; run through `npm pack`, which provides node-gyp';
    throw new Error(`vipllava prebuild: the ${platform()}-${targetArch} build failed (prebuildify exited ${r.status ?? r.signal})${hint}`);
  }
  const out = join(root, 'prebuilds', `${platform()}-${targetArch}`);
  const files = readdirSync(out).filter((f) => f.endsWith('.node'));
  if (files.length !== 1) throw new Error(`vipllava prebuild: expected one binary in ${out}, found ${files.join(', ') || 'none'}`);
  const file = join(out, files[0]);
  const machine = readFileSync(file).readUInt16LE(18);
  if (platform() === 'linux' && CROSS[targetArch] && machine !== CROSS[targetArch].machine) {
    throw new Error(`vipllava prebuild: ${file} is not a ${targetArch} ELF file (e_machine ${machine})`);
  }
  return file;
}

rmSync(join(root, 'prebuilds'), { recursive: true, force: true }); // binaries of an earlier pack must not ship
const built = [build(arch(), null)];
if (platform() === 'linux') {
  for (const [other, { prefix, apt }] of Object.entries(CROSS).filter(([a]) => a !== arch())) {
    if (has(`${prefix}-g++`)) built.push(build(other, prefix));
    else console.warn(`vipllava prebuild: ${prefix}-g++ is not installed (apt-get install ${apt}), so the package gets no linux-${other} prebuilt; linux-${other} installs will build from source`);
  }
}
for (const file of built) console.log(`vipllava prebuild: ${file.slice(root.length)} (${(statSync(file).size / 1e6).toFixed(1)} MB)`);
