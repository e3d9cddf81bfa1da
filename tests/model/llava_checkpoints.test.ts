/**
 * Every published Vicuna ViP-LLaVA repository shares one layout (LlavaLlamaForCausalLM config, .bin shards,
 * tokenizer.model): the tiny checkpoint served under each of their hub ids loads through the cache with its tower,
 * picks the llava_v1 template (none of the names says "llama-3" or "phi-3") and answers as transformers does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { VipLlavaForConditionalGeneration, VipLlavaProcessor } from '../../src/index.node.js';
import { tempDir } from '../helpers/checkpoints.js';
import { FIXTURES, readJsonFixture, ROOT } from '../helpers/fixtures.js';
import { HubServer } from '../helpers/hub_server.js';

const REPOS = ['mucai/vip-llava-13b', 'mucai/vip-llava-7b-base', 'mucai/vip-llava-13b-base', 'mucai/vip-llava-7b-base-vcr-ft', 'mucai/vip-llava-7b-refcocog-ft'];
const golden = readJsonFixture<{ cases: Array<{ image: string; prompt: string; input_ids: number[]; new_tokens?: number[] }> }>('goldens', 'tiny-vip-llava-7b.json').cases[0];

describe('the published Vicuna ViP-LLaVA repositories by hub id', () => {
  let server: HubServer;
  const cacheDir = tempDir('llava-repos');
  before(async () => {
    server = await HubServer.start([
      ...REPOS.map((id, i) => ({ id, commit: String(i + 1).repeat(40), folder: join(FIXTURES, 'tiny-vip-llava-7b') })),
      { id: 'openai/clip-vit-large-patch14-336', commit: 'e'.repeat(40), folder: join(FIXTURES, 'tiny-clip-tower') },
    ]);
  });
  after(() => server.close());

  for (const id of REPOS) {
    test(id, async () => {
      const processor = await VipLlavaProcessor.fromPretrained(id, { endpoint: server.url, cacheDir });
      const model = await VipLlavaForConditionalGeneration.fromPretrained(id, { endpoint: server.url, cacheDir });
      assert.match(processor.settings.chatTemplate!.source, /llava_v1/);
      const inputs = await processor.process({ text: golden.prompt, images: [join(ROOT, golden.image)] });
      assert.deepEqual(Array.from(inputs.inputIds.data, Number), golden.input_ids);
      const out = await model.generate({ ...inputs, maxNewTokens: 10 });
      assert.deepEqual(Array.from(out.data, Number).slice(golden.input_ids.length), golden.new_tokens);
    });
  }
});

test('vipllava info describes an original checkpoint with its tower', () => {
  const args = ['info', '--model', join(FIXTURES, 'tiny-vip-llava-7b'), '--vision-tower', join(FIXTURES, 'tiny-clip-tower')];
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'main.js'), ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /vision\s+CLIP, 10 layers, hidden 16, 28px \/ patch 14 → 4 image tokens/);
  assert.match(r.stdout, /weights in shards \(pytorch_model\.bin\.index\.json\)/);
  assert.match(r.stdout, /processor\s+resize shortest edge 28, crop 28×28, 4 <image> tokens per image/);
  assert.match(r.stdout, /chat template\s+the built-in llava_v1 template/);
});

