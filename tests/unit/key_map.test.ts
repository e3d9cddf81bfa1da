import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalKey } from '../../src/weights/key_map.js';
import { readJsonFixture } from '../helpers/fixtures.js';

/** Key names transformers 5.18 itself produced for the tiny Llama checkpoint (tools/make_fixtures.py). */
const layouts = readJsonFixture<{ hub_legacy: string[]; in_memory_5x: string[]; saved_5x: string[] }>('goldens', 'key_layouts.json');
const canonical = new Set(layouts.in_memory_5x);

/** The 4.52–4.57 in-memory layout: 5.x names with CLIP's vision_model level still present. */
const inMemory4x = layouts.in_memory_5x.map((k) => k.replace(/^model\.vision_tower\./, 'model.vision_tower.vision_model.'));

const layoutCases: Array<[string, string[]]> = [
  ['hub legacy (llava-hf/vip-llava-*-hf)', layouts.hub_legacy],
  ['transformers 4.5x in memory', inMemory4x],
  ['transformers 5.x in memory', layouts.in_memory_5x],
  ['transformers 5.x save_pretrained', layouts.saved_5x],
];

for (const [name, keys] of layoutCases) {
  test(`every key of the ${name} layout maps onto the canonical names`, () => {
    const mapped = keys.map(canonicalKey);
    assert.deepEqual(new Set(mapped), canonical);
    assert.equal(mapped.length, canonical.size, 'no two keys collide');
  });
}

test('renaming is idempotent', () => {
  for (const keys of layoutCases.map(([, k]) => k)) {
    for (const k of keys) {
      const once = canonicalKey(k)!;
      assert.equal(canonicalKey(once), once);
    }
  }
});

test('buffers are dropped and unknown keys pass through', () => {
  assert.equal(canonicalKey('vision_tower.vision_model.embeddings.position_ids'), null);
  assert.equal(canonicalKey('language_model.model.layers.0.self_attn.rotary_emb.inv_freq'), null);
  assert.equal(canonicalKey('vision_tower.vision_model.post_layernorm.weight'), 'model.vision_tower.post_layernorm.weight');
  assert.equal(canonicalKey('something_else.weight'), 'something_else.weight');
});

test('the original LLaVA layout and its tower checkpoint map onto the canonical names', () => {
  const index = readJsonFixture<{ weight_map: Record<string, string> }>('tiny-vip-llava-7b', 'pytorch_model.bin.index.json');
  const mapped = Object.keys(index.weight_map).map(canonicalKey).filter((k): k is string => k !== null);
  // the checkpoint's own copy of the tower is dropped: the tower comes from the tower's checkpoint
  assert.ok(Object.keys(index.weight_map).some((k) => k.startsWith('model.vision_tower.vision_tower.vision_model.')));
  const tower = [...canonical].filter((k) => k.startsWith('model.vision_tower.')).map((k) => k.replace(/^model\.vision_tower\./, 'vision_model.'));
  const all = new Set([...mapped, ...tower.map((k) => canonicalKey(k)!)]);
  // same module tree as transformers' (the tiny-llama goldens have 12 vision layers; compare the names' shapes)
  const shape = (k: string) => k.replace(/\.\d+\./g, '.N.');
  assert.deepEqual(new Set([...all].map(shape)), new Set([...canonical].map(shape)));
  assert.equal(canonicalKey('model.mm_projector.final_linear.2.bias'), 'model.multi_modal_projector.linear_2.bias');
  assert.equal(canonicalKey('model.mm_projector.clip_layernorm.weight'), 'model.multi_modal_projector.projector_layernorm.weight');
  assert.equal(canonicalKey('model.layers.3.mlp.up_proj.weight'), 'model.language_model.layers.3.mlp.up_proj.weight');
  assert.equal(canonicalKey('text_model.encoder.layers.0.mlp.fc1.weight'), 'text_model.encoder.layers.0.mlp.fc1.weight');
});
