/**
 * Ollama's API: `/api/chat` and `/api/generate` (NDJSON streaming unless `stream: false`), `/api/tags`,
 * `/api/show`, `/api/version`, `/api/ps`. Options the client leaves out come from the checkpoint's
 * generation_config.json, not from Ollama's Modelfile defaults.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { packageVersion, type DrawnPrompt, type GenerationOptions, type RgbImage, type VisualPrompt } from '../index.node.js';
import { reportedFinish, type CompletionRequest, type CompletionResult, type Part, type Turn } from './completion.js';
import { ApiError } from './errors.js';
import { OLLAMA_CHAT, OLLAMA_GENERATE, OLLAMA_MODEL } from './schemas.js';
import type { Service, VisualPromptOptions } from './service.js';
import { clientGone, openStream } from './streams.js';

interface Options {
  temperature?: number;
  top_k?: number;
  top_p?: number;
  min_p?: number;
  num_predict?: number;
  seed?: number;
  stop?: string[];
  repeat_penalty?: number;
}
interface Common {
  model: string;
  stream?: boolean;
  options?: Options;
  visual_prompt_options?: VisualPromptOptions;
  image_aspect_ratio?: 'crop' | 'pad';
}
type Prompted = Array<VisualPrompt & { image?: number }>;
interface ChatBody extends Common {
  messages: Array<{ role: 'system' | 'user' | 'assistant'; content: string; images?: string[] | null; visual_prompts?: Prompted }>;
}
interface GenerateBody extends Common {
  prompt?: string;
  system?: string;
  images?: string[] | null;
  visual_prompts?: Prompted;
}

function generationOptions(o: Options = {}): GenerationOptions {
  const sampling = o.temperature === undefined ? undefined : o.temperature > 0;
  return {
    ...(o.num_predict !== undefined && o.num_predict > 0 && { maxNewTokens: o.num_predict }), // -1, -2: until the context is full
    ...(sampling !== undefined && { doSample: sampling }),
    ...(sampling && { temperature: o.temperature }),
    ...(sampling && o.top_k !== undefined && { topK: o.top_k }),
    ...(sampling && o.top_p !== undefined && { topP: o.top_p }),
    ...(sampling && o.min_p !== undefined && o.min_p > 0 && { minP: o.min_p }),
    ...(o.seed !== undefined && { seed: o.seed }),
    ...(o.repeat_penalty !== undefined && { repetitionPenalty: o.repeat_penalty }),
  };
}

/** A message's images decoded, its visual prompts drawn (each on the image its `image` index names, default 0). */
async function turnOf(s: Service, role: Turn['role'], text: string, images: string[], prompts: Prompted | undefined, o: VisualPromptOptions | undefined, where: string) {
  const decoded: RgbImage[] = await s.images(images.map((ref, k) => ({ ref, param: `${where}.images[${k}]` })));
  const drawn: DrawnPrompt[] = [];
  if (prompts?.length) {
    if (decoded.length === 0) throw new ApiError(400, `${where}: visual prompts need an image in the same message`, `${where}.visual_prompts`, 'invalid_visual_prompt');
    for (let k = 0; k < decoded.length; k++) {
      const mine = prompts.filter((p) => (p.image ?? 0) === k);
      if (mine.length === 0) continue;
      const result = s.draw(decoded[k], mine, o, `${where}.visual_prompts`);
      decoded[k] = result.image;
      drawn.push(...result.drawn);
    }
    const stray = prompts.find((p) => (p.image ?? 0) >= decoded.length);
    if (stray) throw new ApiError(400, `${where}: a visual prompt names image ${stray.image}, but the message has ${decoded.length}`, `${where}.visual_prompts`, 'invalid_visual_prompt');
  }
  const parts: Part[] = [...decoded.map((image) => ({ type: 'image' as const, image })), { type: 'text', text: s.fill(text, drawn, where) }];
  return { turn: { role, parts }, drawn: drawn.length > 0 };
}

const request = (turns: Turn[], drawn: boolean, b: Common): CompletionRequest => ({
  turns,
  options: generationOptions(b.options),
  stop: b.options?.stop ?? [],
  imageAspectRatio: b.image_aspect_ratio ?? (drawn ? 'pad' : undefined),
});


function stats(result: CompletionResult, arrived: bigint) {
  return {
    total_duration: Number(process.hrtime.bigint() - arrived),
    load_duration: 0,
    prompt_eval_count: result.promptTokens,
    prompt_eval_duration: result.timings.promptNs,
    eval_count: result.completionTokens,
    eval_duration: result.timings.generateNs,
  };
}

/** Runs a request and answers as Ollama does: one JSON object, or NDJSON lines ending with the statistics. */
async function answer(s: Service, r: CompletionRequest, reply: FastifyReply, stream: boolean, shape: (text: string) => object) {
  const arrived = process.hrtime.bigint();
  const base = () => ({ model: s.info.name, created_at: new Date().toISOString() });
  if (!stream) {
    const result = await s.complete(r, clientGone(reply), () => {});
    const c = result.choices[0];
    return { ...base(), ...shape(c.text), done: true, done_reason: reportedFinish(c.finishReason), ...stats(result, arrived) };
  }
  const out = openStream(reply, 'application/x-ndjson');
  try {
    const result = await s.complete(r, out.gone, (d) => {
      if (d.text) out.write(`${JSON.stringify({ ...base(), ...shape(d.text), done: false })}\n`);
    });
    out.write(`${JSON.stringify({ ...base(), ...shape(''), done: true, done_reason: reportedFinish(result.choices[0].finishReason), ...stats(result, arrived) })}\n`);
  } catch (e) {
    if (!out.started) throw e;
    out.write(`${JSON.stringify({ error: (e as Error).message })}\n`);
  } finally {
    out.end();
  }
  return reply;
}

export function ollamaRoutes(app: FastifyInstance, s: Service): void {
  app.post<{ Body: ChatBody }>('/api/chat', { schema: { body: OLLAMA_CHAT } }, async (req, reply) => {
    const b = req.body;
    s.checkModel(b.model);
    let drawn = false;
    const turns: Turn[] = [];
    for (const [i, m] of b.messages.entries()) {
      if (m.role !== 'user' && (m.images?.length || m.visual_prompts?.length)) throw new ApiError(400, `messages[${i}]: images go in user messages`, `messages[${i}]`, 'invalid_request');
      const t = await turnOf(s, m.role, m.content, m.images ?? [], m.visual_prompts, b.visual_prompt_options, `messages[${i}]`);
      turns.push(t.turn);
      drawn ||= t.drawn;
    }
    return answer(s, request(turns, drawn, b), reply, b.stream !== false, (text) => ({ message: { role: 'assistant', content: text } }));
  });

  app.post<{ Body: GenerateBody }>('/api/generate', { schema: { body: OLLAMA_GENERATE } }, async (req, reply) => {
    const b = req.body;
    s.checkModel(b.model);
    if (b.prompt === undefined || b.prompt === '') return { model: s.info.name, created_at: new Date().toISOString(), response: '', done: true, done_reason: 'load' }; // Ollama's "load the model" call
    const turns: Turn[] = b.system !== undefined ? [{ role: 'system', parts: [{ type: 'text', text: b.system }] }] : [];
    const t = await turnOf(s, 'user', b.prompt, b.images ?? [], b.visual_prompts, b.visual_prompt_options, 'prompt');
    turns.push(t.turn);
    return answer(s, request(turns, t.drawn, b), reply, b.stream !== false, (text) => ({ response: text }));
  });

  const details = () => ({
    parent_model: '',
    format: 'safetensors',
    family: s.family,
    families: [s.family, 'clip'],
    parameter_size: parameterSize(s.info.parameters),
    quantization_level: s.info.dtype,
  });
  const entry = () => ({ name: `${s.info.name}:latest`, model: `${s.info.name}:latest`, modified_at: new Date(s.started).toISOString(), size: s.info.sizeBytes, digest: '', details: details() });

  app.get('/api/tags', async () => ({ models: [entry()] }));
  app.get('/api/ps', async () => ({ models: [{ ...entry(), expires_at: '9999-12-31T23:59:59Z', size_vram: 0 }] }));
  app.get('/api/version', async () => ({ version: packageVersion() }));
  app.post<{ Body: { model?: string; name?: string } }>('/api/show', { schema: { body: OLLAMA_MODEL } }, async (req) => {
    const model = req.body.model ?? req.body.name;
    if (model === undefined) throw new ApiError(400, 'model is required', 'model', 'invalid_request');
    s.checkModel(model);
    return {
      modelfile: `FROM ${s.info.name}\n`,
      parameters: '',
      template: s.chatTemplate,
      details: details(),
      model_info: {
        'general.architecture': s.family,
        'general.parameter_count': s.info.parameters,
        [`${s.family}.context_length`]: s.contextLength,
      },
      capabilities: ['completion', 'vision'],
      modified_at: new Date(s.started).toISOString(),
    };
  });
}

const parameterSize = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : `${(n / 1e6).toFixed(1)}M`);
