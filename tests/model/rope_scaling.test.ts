/**
 * The tiny Llama weights under linear, dynamic-NTK and llama3 RoPE configs, against transformers. With
 * max_position_embeddings 16 the dynamic variant recomputes its frequencies at prefill and at every decode
 * step, so greedy tokens also check that state.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { VipLlavaForConditionalGeneration } from '../../src/index.node.js';
import { SafetensorsFile } from '../../src/weights/safetensors.js';
import { FileSource } from '../../src/io/file_source.node.js';
import { relativeError } from '../helpers/compare.js';
import { FIXTURES, readJsonFixture, TINY_LLAMA } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/checkpoints.js';

const goldens = readJsonFixture<{ input_ids: number[]; variants: Record<string, { text_config: object; output: number[] }> }>('goldens', 'rope_models.json');

describe('RoPE scaling at model level', () => {
  for (const [name, v] of Object.entries(goldens.variants)) {
    test(`${name}: last logits and greedy tokens match transformers`, async () => {
      const dir = tempDir(`rope-${name}`);
      for (const f of readdirSync(TINY_LLAMA)) copyFileSync(join(TINY_LLAMA, f), join(dir, f));
      const config = JSON.parse(readFileSync(join(TINY_LLAMA, 'config.json'), 'utf8'));
      Object.assign(config.text_config, v.text_config);
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));

      const file = await SafetensorsFile.open(new FileSource(join(FIXTURES, 'goldens', 'rope_models.safetensors')));
      const expected = (await file.read(`${name}_last_logits`)).toFloat32();
      await file.close();

      const model = await VipLlavaForConditionalGeneration.fromPretrained(dir);
      const { logits } = await model.forward({ inputIds: [goldens.input_ids], logitsToKeep: 1 });
      const err = relativeError(logits.toFloat32(), expected);
      assert.ok(err < 1e-4, `relative error ${err}`);
      const fresh = await VipLlavaForConditionalGeneration.fromPretrained(dir); // dynamic RoPE state starts anew
      const out = await fresh.generate({ inputIds: [goldens.input_ids], maxNewTokens: 16 });
      assert.deepEqual(out.tolist(), [v.output]);
    });
  }
});
