/** JSON schemas of the request bodies (fastify validates every body against its route's schema). */

const number = { type: 'number' } as const;
const nullable = <T extends object>(s: T) => ({ anyOf: [s, { type: 'null' }] });

/** One visual prompt, as the library's drawVisualPrompts takes it; `image` picks the message's image (Ollama). */
export const VISUAL_PROMPT = {
  type: 'object',
  required: ['shape'],
  properties: {
    shape: { enum: ['rectangle', 'ellipse', 'triangle', 'point', 'scribble', 'mask_contour', 'mask', 'arrow'] },
    box: { type: 'array', items: number, minItems: 4, maxItems: 4 },
    polygons: { type: 'array', minItems: 1, maxItems: 64, items: { type: 'array', items: number, minItems: 6, maxItems: 20000 } },
    point: { type: 'array', items: number, minItems: 2, maxItems: 2 },
    color: { anyOf: [{ type: 'string', maxLength: 32 }, { type: 'array', items: { type: 'integer', minimum: 0, maximum: 255 }, minItems: 3, maxItems: 3 }] },
    alpha: { type: 'integer', minimum: 0, maximum: 255 },
    width: { type: 'number', exclusiveMinimum: 0, maximum: 1000 },
    image: { type: 'integer', minimum: 0 },
  },
  additionalProperties: false,
} as const;

export const VISUAL_PROMPTS = { type: 'array', items: VISUAL_PROMPT, maxItems: 16 } as const;
export const VISUAL_PROMPT_OPTIONS = {
  type: 'object',
  properties: { seed: { type: 'integer' }, style: { enum: ['eval', 'random'] } },
  additionalProperties: false,
} as const;
export const ASPECT = { enum: ['crop', 'pad'] } as const;

const CONTENT_PART = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { enum: ['text', 'image_url'] },
    text: { type: 'string' },
    image_url: { anyOf: [{ type: 'string' }, { type: 'object', required: ['url'], properties: { url: { type: 'string' }, detail: { type: 'string' } } }] },
    visual_prompts: VISUAL_PROMPTS,
  },
} as const;

export const OPENAI_CHAT = {
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    model: { type: 'string' },
    messages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['role'],
        properties: {
          role: { enum: ['system', 'developer', 'user', 'assistant'] },
          content: { anyOf: [{ type: 'string' }, { type: 'array', items: CONTENT_PART }, { type: 'null' }] },
        },
      },
    },
    stream: nullable({ type: 'boolean' }),
    stream_options: nullable({ type: 'object', properties: { include_usage: { type: 'boolean' } } }),
    max_tokens: nullable({ type: 'integer', minimum: 1 }),
    max_completion_tokens: nullable({ type: 'integer', minimum: 1 }),
    min_tokens: nullable({ type: 'integer', minimum: 0 }),
    temperature: nullable({ type: 'number', minimum: 0, maximum: 2 }),
    top_p: nullable({ type: 'number', minimum: 0, maximum: 1 }),
    seed: nullable({ type: 'integer' }),
    stop: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 4 }, { type: 'null' }] },
    n: nullable({ type: 'integer', minimum: 1, maximum: 8 }),
    logprobs: nullable({ type: 'boolean' }),
    top_logprobs: nullable({ type: 'integer', minimum: 0, maximum: 20 }),
    presence_penalty: nullable({ type: 'number', minimum: -2, maximum: 2 }),
    frequency_penalty: nullable({ type: 'number', minimum: -2, maximum: 2 }),
    visual_prompt_options: VISUAL_PROMPT_OPTIONS,
    image_aspect_ratio: ASPECT,
  },
} as const;

const OLLAMA_OPTIONS = {
  type: 'object',
  properties: {
    temperature: { type: 'number', minimum: 0 },
    top_k: { type: 'integer', minimum: 0 },
    top_p: { type: 'number', minimum: 0, maximum: 1 },
    min_p: { type: 'number', minimum: 0, maximum: 1 },
    num_predict: { type: 'integer', minimum: -2 },
    seed: { type: 'integer' },
    stop: { type: 'array', items: { type: 'string', minLength: 1 } },
    repeat_penalty: { type: 'number', exclusiveMinimum: 0 },
  },
} as const;

const OLLAMA_COMMON = {
  model: { type: 'string' },
  stream: { type: 'boolean' },
  options: OLLAMA_OPTIONS,
  keep_alive: { anyOf: [{ type: 'string' }, { type: 'number' }] },
  visual_prompt_options: VISUAL_PROMPT_OPTIONS,
  image_aspect_ratio: ASPECT,
} as const;

export const OLLAMA_CHAT = {
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    ...OLLAMA_COMMON,
    messages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['role', 'content'],
        properties: {
          role: { enum: ['system', 'user', 'assistant'] },
          content: { type: 'string' },
          images: nullable({ type: 'array', items: { type: 'string' } }),
          visual_prompts: VISUAL_PROMPTS,
        },
      },
    },
  },
} as const;

export const OLLAMA_GENERATE = {
  type: 'object',
  required: ['model'],
  properties: {
    ...OLLAMA_COMMON,
    prompt: { type: 'string' },
    system: { type: 'string' },
    images: nullable({ type: 'array', items: { type: 'string' } }),
    visual_prompts: VISUAL_PROMPTS,
  },
} as const;

export const OLLAMA_MODEL = { type: 'object', properties: { model: { type: 'string' }, name: { type: 'string' } } } as const;

export const RENDER = {
  type: 'object',
  required: ['image', 'visual_prompts'],
  properties: { image: { type: 'string' }, visual_prompts: { ...VISUAL_PROMPTS, minItems: 1 }, visual_prompt_options: VISUAL_PROMPT_OPTIONS },
  additionalProperties: false,
} as const;
