/**
 * The built-in llava_v1 / llava_llama_3 / llava_phi_3 templates against the original conversation.py's
 * get_prompt() (tools/make_llava_backbone_fixtures.py ran it): one and two turns, answered or waiting for the
 * assistant, text only, another or an empty system text, and a message that already holds <|eot_id|>.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BUILTIN_TEMPLATES, renderChatTemplate, type ChatMessage } from '../../src/processor/chat_template.js';
import { readJsonFixture } from '../helpers/fixtures.js';

interface Case {
  template: keyof typeof BUILTIN_TEMPLATES;
  label: string;
  messages: ChatMessage[];
  add_generation_prompt: boolean;
  prompt: string;
}

const golden = readJsonFixture<{ source: string; cases: Case[] }>('goldens', 'llava_conversations.json');

test('the golden covers the three templates of the original eval', () => {
  assert.deepEqual([...new Set(golden.cases.map((c) => c.template))], ['llava_v1', 'llava_llama_3', 'llava_phi_3']);
  assert.match(golden.source, /^WisconsinAIVision\/ViP-LLaVA@[0-9a-f]{40} llava\/conversation\.py$/);
});

for (const c of golden.cases) {
  test(`${c.template}: ${c.label} renders as get_prompt()`, () => {
    assert.equal(renderChatTemplate(BUILTIN_TEMPLATES[c.template], c.messages, { addGenerationPrompt: c.add_generation_prompt }), c.prompt);
  });
}
