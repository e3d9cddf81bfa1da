/**
 * What the bf16 and quantised formats cost in accuracy, written down: for the shipped model on the first N
 * held-out questions, each format's logits at the answer position against the fp32 path (normalised error
 * max |Δ| / max |fp32|, median and worst over prompts), whether the argmax agrees, and whether the greedy
 * answers are identical.
 *
 *   npm run bench:formats [-- --limit 60]
 */
import { parseArgs } from 'node:util';
import { VipLlavaForConditionalGeneration, VipLlavaProcessor } from '../src/index.node.js';
import { answerInputs, loadHeldout, promptedScene, questionInputs } from '../src/evaluation/heldout.js';
import { argmax } from '../src/generation/sampling.js';
import { relativeError } from '../tests/helpers/compare.js';
import { DEFAULT_MODEL, SYNTHETIC_DATA } from '../src/package_paths.node.js';
import type { WeightDtype } from '../src/vocabulary.js';
import { machine } from './report.js';

const { values } = parseArgs({ options: { limit: { type: 'string', default: '60' } } });
const limit = Number(values.limit);

async function main() {
  console.log(`machine: ${machine()}`);
  const processor = await VipLlavaProcessor.fromPretrained(DEFAULT_MODEL);
  const items = loadHeldout(SYNTHETIC_DATA).items.slice(0, limit);
  const prompts = await Promise.all(items.map(async (it) => questionInputs(processor, await promptedScene(SYNTHETIC_DATA, it), it.question)));
  const run = async (dtype: WeightDtype, quantizeVision = false) => {
    const model = await VipLlavaForConditionalGeneration.fromPretrained(DEFAULT_MODEL, { engine: 'native', dtype, quantizeVision });
    const logits: Float32Array[] = [];
    const answers: string[] = [];
    for (const inputs of prompts) {
      logits.push((await model.forward({ ...inputs, logitsToKeep: 1 })).logits.toFloat32());
      answers.push(await answerInputs(model, processor, inputs));
    }
    return { logits, answers };
  };
  const base = await run('float32');
  console.log(`shipped model, ${prompts.length} held-out prompts, native engine; reference: float32 weights and compute\n`);
  console.log('format            logit error median   worst    argmax agrees   same greedy answer');
  for (const [dtype, qv] of [['auto', false], ['bfloat16', false], ['q8_0', false], ['q8_0', true], ['q4_0', false], ['q4_0', true]] as const) {
    const r = await run(dtype, qv);
    const errs = r.logits.map((l, i) => relativeError(l, base.logits[i])).sort((a, b) => a - b);
    const agree = r.logits.filter((l, i) => argmax(l) === argmax(base.logits[i])).length;
    const same = r.answers.filter((a, i) => a === base.answers[i]).length;
    const name = `${dtype === 'auto' ? 'float16 (stored)' : dtype}${qv ? ' +vision' : ''}`;
    console.log(`${name.padEnd(18)}${errs[Math.floor(errs.length / 2)].toExponential(2).padStart(16)}${errs.at(-1)!.toExponential(2).padStart(10)}${`${agree}/${prompts.length}`.padStart(14)}${`${same}/${prompts.length}`.padStart(18)}`);
  }
}

await main();
