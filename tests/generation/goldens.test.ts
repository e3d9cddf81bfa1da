/**
 * generate() against transformers 5.18 on both tiny checkpoints: greedy with every logits processor, batched
 * rows finishing at different times, beam search (return sequences, several EOS ids, early stopping true /
 * false / "never", length penalties, batches) and stop strings across token boundaries.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { VipLlavaForConditionalGeneration } from '../../src/index.node.js';
import { VipLlavaProcessor, type ProcessorOutput } from '../../src/processor/processor.js';
import { VARIANTS } from '../helpers/fixtures.js';
import { camelOptions, generationGoldens } from '../helpers/generation_goldens.js';
import { image } from '../helpers/processor_goldens.js';

for (const variant of VARIANTS) {
  const g = generationGoldens(variant.name);
  describe(`generate() parity: ${variant.name}`, () => {
    let model: VipLlavaForConditionalGeneration;
    let processor: VipLlavaProcessor;
    let inputs: Record<'single' | 'batch', ProcessorOutput>;
    before(async () => {
      model = await VipLlavaForConditionalGeneration.fromPretrained(variant.dir);
      processor = await VipLlavaProcessor.fromPretrained(variant.dir);
      inputs = {
        single: await processor.process({ text: g.prompts[0], images: [image(g.images[0])] }),
        batch: await processor.process({ text: g.batch_texts, images: g.images.map(image) }),
      };
      assert.deepEqual(inputs.single.inputIds.tolist(), g.single_input_ids);
      assert.deepEqual(inputs.batch.inputIds.tolist(), g.batch_input_ids);
    });

    for (const [name, c] of Object.entries(g.cases)) {
      test(`${name} ${JSON.stringify(c.kwargs)}`, async () => {
        const out = await model.generate({ ...inputs[c.inputs], ...camelOptions(c.kwargs), padTokenId: g.pad_token_id ?? 32001, tokenizer: processor.tokenizer });
        assert.deepEqual(out.tolist(), c.output);
      });
    }
  });
}
