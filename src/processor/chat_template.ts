/**
 * Chat templates rendered with @huggingface/jinja, which follows transformers' Jinja settings (trim_blocks,
 * lstrip_blocks). Two built-in templates:
 *
 * - "hub": the template on llava-hf/vip-llava-*-hf: `###Human: <image>\n…###Assistant:`; images before text
 *   within a message, no separators, a system text emitted twice (a quirk kept for parity).
 * - "llava_v1": the format ViP-LLaVA was trained and evaluated with (LLaVA's conv_llava_v1):
 *   `{system} USER: <image>\n{q} ASSISTANT: {a}</s>USER: … ASSISTANT:`, with LLaVA's system sentence unless
 *   a system message replaces it.
 * - "llava_llama_3", "llava_phi_3": the Llama-3 and Phi-3 ViP-LLaVA variants' (LLaVA's conv_llava_llama_3 and
 *   conv_llava_phi_3), with their shared system sentence unless a system message replaces it.
 */
import { Template } from '@huggingface/jinja';
import { InputError } from '../errors.js';

export type ContentPart = { type: 'text'; text: string } | { type: 'image'; [key: string]: unknown };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  /** A string is taken as one text part. */
  content: string | ContentPart[];
}

export const LLAVA_SYSTEM_PROMPT =
  "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";

const HUB_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'][0]['text'] }}" +
  "{% elif message['role'] == 'user' %}{{ '###Human: '}}{% else %}{{ '###' + message['role'].title() + ': '}}" +
  "{% endif %}{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}" +
  "{{ '<image>\n' }}{% endfor %}{# Render all text next #}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}" +
  "{{ content['text'] }}{% endfor %}{% endfor %}{% if add_generation_prompt %}{{ '###Assistant:' }}{% endif %}";

const LLAVA_V1_TEMPLATE =
  `{% set ns = namespace(system=${JSON.stringify(LLAVA_SYSTEM_PROMPT)}) %}` +
  "{% for message in messages %}{% if message['role'] == 'system' %}{% set ns.system = message['content'] | selectattr('type', 'equalto', 'text') | map(attribute='text') | join('') %}{% endif %}{% endfor %}" +
  "{{ ns.system + ' ' }}" +
  "{% for message in messages %}{% if message['role'] == 'user' %}{{ 'USER: ' }}" +
  "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}" +
  "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}{{ ' ' }}" +
  "{% elif message['role'] == 'assistant' %}{{ 'ASSISTANT: ' }}" +
  "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}{{ '</s>' }}" +
  "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";

/** The system sentence of the Llama-3 and Phi-3 ViP-LLaVA variants' templates. */
export const LLAVA_VISION_SYSTEM_PROMPT =
  'You are a helpful language and vision assistant. You are able to understand the visual content that the user provides, and assist the user with a variety of tasks using natural language.';

/** The system text: the last system message's, else the template's sentence. */
const SYSTEM = (sentence: string) =>
  `{% set ns = namespace(system=${JSON.stringify(sentence)}) %}` +
  "{% for message in messages %}{% if message['role'] == 'system' %}{% set ns.system = message['content'] | selectattr('type', 'equalto', 'text') | map(attribute='text') | join('') %}{% endif %}{% endfor %}";

/**
 * A non-system message as get_prompt() writes it for LLAMA_3 / Phi_3: the header; then, unless the message is empty,
 * its images (one `<image>\n` each), its text and `end` (left out when the text already holds `<|eot_id|>`: both
 * styles test for that token).
 */
const TURN = (header: string, end: string) =>
  "{% for message in messages %}{% if message['role'] != 'system' %}" +
  "{% set text = message['content'] | selectattr('type', 'equalto', 'text') | map(attribute='text') | join('') %}" +
  "{% set images = message['content'] | selectattr('type', 'equalto', 'image') | list %}" +
  `{{ ${header} }}{% if text or images | length > 0 %}` +
  "{% for content in images %}{{ '<image>\n' }}{% endfor %}{{ text }}" +
  `{% if '<|eot_id|>' not in text %}{{ ${JSON.stringify(end)} }}{% endif %}{% endif %}{% endif %}{% endfor %}`;

/** conv_llava_llama_3 (SeparatorStyle.LLAMA_3): the system block (with its own <|begin_of_text|>) when there is a system text. */
const LLAVA_LLAMA_3_TEMPLATE =
  SYSTEM(LLAVA_VISION_SYSTEM_PROMPT) +
  "{% if ns.system %}{{ '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n' + ns.system + '<|eot_id|>' }}{% endif %}" +
  TURN("'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'", '<|eot_id|>') +
  "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

/** conv_llava_phi_3 (SeparatorStyle.Phi_3). */
const LLAVA_PHI_3_TEMPLATE =
  SYSTEM(LLAVA_VISION_SYSTEM_PROMPT) +
  "{% if ns.system %}{{ '<|system|>\n' + ns.system + '<|end|>\n' }}{% endif %}" +
  TURN("'<|' + message['role'] + '|>\n'", '<|end|>\n') +
  "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}";

export const BUILTIN_TEMPLATES = { hub: HUB_TEMPLATE, llava_v1: LLAVA_V1_TEMPLATE, llava_llama_3: LLAVA_LLAMA_3_TEMPLATE, llava_phi_3: LLAVA_PHI_3_TEMPLATE } as const;
export type BuiltinTemplate = keyof typeof BUILTIN_TEMPLATES;

const compiled = new Map<string, Template>();

/** Content as a list of parts (strings become one text part). */
export function normalizeMessages(messages: ChatMessage[]): Array<{ role: string; content: ContentPart[] }> {
  if (!Array.isArray(messages)) throw new InputError('messages must be an array of { role, content }');
  return messages.map((m, i) => {
    if (typeof m?.role !== 'string') throw new InputError(`messages[${i}] has no role`);
    if (typeof m.content === 'string') return { role: m.role, content: [{ type: 'text', text: m.content }] };
    if (!Array.isArray(m.content)) throw new InputError(`messages[${i}].content must be a string or a list of parts`);
    m.content.forEach((p, j) => {
      if (p?.type !== 'text' && p?.type !== 'image') throw new InputError(`messages[${i}].content[${j}] must have type "text" or "image"`);
      if (p.type === 'text' && typeof p.text !== 'string') throw new InputError(`messages[${i}].content[${j}] is a text part without text`);
    });
    return { role: m.role, content: m.content };
  });
}

export function renderChatTemplate(
  source: string,
  messages: ChatMessage[],
  { addGenerationPrompt = false, specialTokens = {} }: { addGenerationPrompt?: boolean; specialTokens?: Record<string, string> } = {},
): string {
  let template = compiled.get(source);
  if (!template) {
    try {
      template = new Template(source);
    } catch (e) {
      throw new InputError(`the chat template does not parse: ${(e as Error).message}`);
    }
    compiled.set(source, template);
  }
  try {
    return template.render({ messages: normalizeMessages(messages), add_generation_prompt: addGenerationPrompt, ...specialTokens });
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`the chat template failed: ${(e as Error).message}`);
  }
}
