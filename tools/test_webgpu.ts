/**
 * The test suite's third pass (`npm test` runs it last): every test again with the WebGPU engine as the default
 * device ($VIPLLAVA_DEVICE=webgpu), through whatever adapter Dawn finds (Mesa's llvmpipe over OpenGL ES on the CI
 * machines). Without an adapter the pass is skipped with the reason, unless $VIPLLAVA_REQUIRE_WEBGPU is set (CI).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dawnDevice } from '../src/backend/webgpu/dawn.node.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
try {
  const d = await dawnDevice();
  console.log(`WebGPU pass on ${d.label}`);
  d.device.destroy();
} catch (e) {
  if (process.env.VIPLLAVA_REQUIRE_WEBGPU) throw e;
  console.log(`WebGPU pass skipped: ${(e as Error).message}`);
  process.exit(0);
}
const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', join(root, 'dist', 'tests')], { stdio: 'inherit', env: { ...process.env, VIPLLAVA_DEVICE: 'webgpu' } });
process.exit(r.status ?? 1);
