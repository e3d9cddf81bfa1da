/** Folders shipped inside the package, found from this module's location (dist/src/ → package root). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../../', import.meta.url);

/** The small VipLlava trained on the synthetic visual-prompt task: the default model of the CLI. */
export const DEFAULT_MODEL = fileURLToPath(new URL('models/vip-llava-synthetic', root));

/** The synthetic task's held-out split (clean scenes, prompt plans, questions, answers) and transformers' answers. */
export const SYNTHETIC_DATA = fileURLToPath(new URL('data/synthetic', root));

/** The drawing page `vipllava serve` shows at `/`, bundled by `npm install` (tools/build_page.ts). */
export const PAGE_DIR = fileURLToPath(new URL('dist/page', root));

/** This package's version, from its package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(fileURLToPath(new URL('package.json', root)), 'utf8')) as { version: string }).version;
}
