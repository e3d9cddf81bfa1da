/** Test-only: the shipped model served in this process on a loopback port, and the CLI's answers to compare with. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { DEFAULT_MODEL, VipLlavaForConditionalGeneration, VipLlavaProcessor, DEFAULT_MAX_PIXELS } from '../../src/index.node.js';
import { createServer, type ServerOptions } from '../../src/server/app.js';
import { Service, type ServiceOptions } from '../../src/server/service.js';
import { ROOT } from './fixtures.js';

let loaded: Promise<{ model: VipLlavaForConditionalGeneration; processor: VipLlavaProcessor }> | null = null;
const shipped = () => (loaded ??= Promise.all([VipLlavaForConditionalGeneration.fromPretrained(DEFAULT_MODEL), VipLlavaProcessor.fromPretrained(DEFAULT_MODEL)]).then(([model, processor]) => ({ model, processor })));

export interface Served {
  url: string;
  service: Service;
  close(): Promise<void>;
}

/** Serves the shipped model (loaded once per test file) with these options over the defaults. */
export async function serve(options: Partial<ServiceOptions> = {}, server: Partial<ServerOptions> = {}): Promise<Served> {
  const { model, processor } = await shipped();
  const service = new Service(
    { model, processor, templateStops: ['###'] },
    { name: 'vip-llava-synthetic', parameters: 9_690_000, sizeBytes: 0, dtype: 'float16' },
    { images: { maxPixels: DEFAULT_MAX_PIXELS, maxBytes: 20 << 20, allowRemote: false, remoteTimeoutMs: 5000 }, maxImages: 4, maxBatch: 4, maxQueue: 16, timeoutMs: 60_000, ...options },
  );
  const app = await createServer(service, { bodyLimit: 8 << 20, ...server });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, service, close: () => app.close() };
}

/** What `vipllava generate --json` answers (the shipped model). */
export function cliAnswer(args: string[]): { answer: string; prompt: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'generate', '--json', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the CLI failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { answer: string; prompt: string };
}
