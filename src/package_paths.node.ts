/** Folders shipped inside the package, found from this module's location (dist/src/ → package root). */
import { fileURLToPath } from 'node:url';

const root = new URL('../../', import.meta.url);

/** The small VipLlava trained on the synthetic visual-prompt task: the default model of the CLI. */
export const DEFAULT_MODEL = fileURLToPath(new URL('models/vip-llava-synthetic', root));

/** The synthetic task's held-out split (clean scenes, prompt plans, questions, answers) and transformers' answers. */
export const SYNTHETIC_DATA = fileURLToPath(new URL('data/synthetic', root));
