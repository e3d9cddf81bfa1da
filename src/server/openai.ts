/** OpenAI's Chat Completions (`/v1/chat/completions`, streaming as server-sent events) and `/v1/models`. */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { DrawnPrompt, GenerationOptions, VisualPrompt } from '../index.node.js';
import { reportedFinish, type CompletionRequest, type Delta, type Part, type Turn } from './completion.js';
import { ApiError } from './errors.js';
import { OPENAI_CHAT } from './schemas.js';
import type { Service, VisualPromptOptions } from './service.js';
import { clientGone, openStream } from './streams.js';

type ContentPart = { type: 'text'; text?: string } | { type: 'image_url'; image_url?: string | { url: string }; visual_prompts?: VisualPrompt[] };
interface ChatBody {
  model: string;
  messages: Array<{ role: 'system' | 'developer' | 'user' | 'assistant'; content?: string | ContentPart[] | null }>;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  /** Not OpenAI's: vLLM's extension, the fewest tokens before the end-of-sequence token may end a reply. */
  min_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  n?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  visual_prompt_options?: VisualPromptOptions;
  image_aspect_ratio?: 'crop' | 'pad';
}

const given = <T>(v: T | null | undefined): v is T => v !== null && v !== undefined;

/** The body as a CompletionRequest: images decoded, visual prompts drawn and their phrases put in the text. */
async function toRequest(s: Service, b: ChatBody): Promise<CompletionRequest> {
  s.checkModel(b.model);
  const refs: Array<{ ref: string; param: string }> = [];
  b.messages.forEach((m, i) => {
    if (Array.isArray(m.content)) {
      m.content.forEach((p, j) => {
        if (p.type === 'image_url') {
          if (m.role !== 'user') throw new ApiError(400, `messages[${i}]: images go in user messages`, `messages[${i}].content[${j}]`, 'invalid_request');
          const url = typeof p.image_url === 'string' ? p.image_url : p.image_url?.url;
          if (!url) throw new ApiError(400, `messages[${i}].content[${j}]: an image_url part needs image_url.url`, `messages[${i}].content[${j}].image_url`, 'invalid_request');
          refs.push({ ref: url, param: `messages[${i}].content[${j}].image_url` });
        }
      });
    }
  });
  const images = await s.images(refs);
  let drawnAny = false;
  let k = 0;
  const turns: Turn[] = b.messages.map((m, i) => {
    const role = m.role === 'developer' ? 'system' : m.role;
    if (m.content === null || m.content === undefined || typeof m.content === 'string') return { role, parts: [{ type: 'text', text: m.content ?? '' }] };
    const phrases: DrawnPrompt[] = [];
    const parts: Part[] = m.content.map((p, j): Part => {
      if (p.type === 'text') {
        if (typeof p.text !== 'string') throw new ApiError(400, `messages[${i}].content[${j}]: a text part needs text`, `messages[${i}].content[${j}].text`, 'invalid_request');
        return { type: 'text', text: p.text };
      }
      let image = images[k++];
      if (p.visual_prompts?.length) {
        const drawn = s.draw(image, p.visual_prompts, b.visual_prompt_options, `messages[${i}].content[${j}].visual_prompts`);
        image = drawn.image;
        phrases.push(...drawn.drawn);
        drawnAny = true;
      }
      return { type: 'image', image };
    });
    return { role, parts: parts.map((p) => (p.type === 'text' ? { type: 'text', text: s.fill(p.text, phrases, `messages[${i}]`) } : p)) };
  });
  const sampling = given(b.temperature) ? b.temperature > 0 : given(b.top_p) || (b.n ?? 1) > 1 ? true : undefined;
  const options: GenerationOptions = {
    ...(given(b.max_completion_tokens ?? b.max_tokens) && { maxNewTokens: (b.max_completion_tokens ?? b.max_tokens)! }),
    ...(given(b.min_tokens) && { minNewTokens: b.min_tokens }),
    ...(sampling !== undefined && { doSample: sampling }),
    ...(sampling && given(b.temperature) && { temperature: b.temperature }),
    ...(sampling && given(b.top_p) && { topP: b.top_p }),
    ...(given(b.seed) && { seed: b.seed }),
    ...(given(b.n) && { numReturnSequences: b.n }),
    ...(b.logprobs && { outputLogprobs: true, topLogprobs: b.top_logprobs ?? 0 }),
    ...(given(b.presence_penalty) && { presencePenalty: b.presence_penalty }),
    ...(given(b.frequency_penalty) && { frequencyPenalty: b.frequency_penalty }),
  };
  const stop = !given(b.stop) ? [] : typeof b.stop === 'string' ? [b.stop] : b.stop;
  return { turns, options, stop, imageAspectRatio: b.image_aspect_ratio ?? (drawnAny ? 'pad' : undefined) };
}

function logprobEntry(s: Service, d: Delta) {
  const piece = (token: number) => {
    const text = s.model.processor.tokenizer.decode([token]);
    return { token: text, bytes: [...Buffer.from(text, 'utf8')] };
  };
  return {
    ...piece(d.token),
    logprob: d.logprob ?? 0,
    top_logprobs: (d.topLogprobs ?? []).map((t) => ({ ...piece(t.token), logprob: t.logprob })),
  };
}


export function openaiRoutes(app: FastifyInstance, s: Service): void {
  app.get('/v1/models', async () => ({ object: 'list', data: [modelCard(s)] }));
  app.get<{ Params: { id: string } }>('/v1/models/:id', async (req) => {
    s.checkModel(req.params.id, 'id');
    return modelCard(s);
  });

  app.post<{ Body: ChatBody }>('/v1/chat/completions', { schema: { body: OPENAI_CHAT } }, async (req, reply) => {
    const r = await toRequest(s, req.body);
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const head = { id, created, model: s.info.name, system_fingerprint: `vipllava-${s.info.dtype}` };
    const withLogprobs = r.options.outputLogprobs === true;
    if (!req.body.stream) {
      const logprobs: Array<Array<ReturnType<typeof logprobEntry>>> = [];
      const result = await s.complete(r, clientGone(reply), (d) => {
        if (withLogprobs && d.token >= 0) (logprobs[d.choice] ??= []).push(logprobEntry(s, d));
      });
      return {
        ...head,
        object: 'chat.completion',
        choices: result.choices.map((c, index) => ({
          index,
          message: { role: 'assistant', content: c.text, refusal: null },
          logprobs: withLogprobs ? { content: logprobs[index] ?? [] } : null,
          finish_reason: reportedFinish(c.finishReason),
        })),
        usage: usage(result),
      };
    }
    return streamCompletion(s, r, reply, head, req.body.stream_options?.include_usage === true);
  });
}

async function streamCompletion(s: Service, r: CompletionRequest, reply: FastifyReply, head: object, includeUsage: boolean): Promise<FastifyReply> {
  const n = r.options.numReturnSequences ?? 1;
  const withLogprobs = r.options.outputLogprobs === true;
  const stream = openStream(reply, 'text/event-stream');
  const send = (data: unknown) => stream.write(`data: ${JSON.stringify(data)}\n\n`);
  const chunk = (choices: unknown[], extra: object = {}) => send({ ...head, object: 'chat.completion.chunk', choices, ...extra });
  let started = false;
  try {
    const result = await s.complete(r, stream.gone, (d) => {
      if (!started) {
        started = true;
        for (let index = 0; index < n; index++) chunk([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
      }
      if (d.finishReason === 'abort') return;
      if (d.text || d.token >= 0 || d.finishReason) {
        chunk([{ index: d.choice, delta: d.text ? { content: d.text } : {}, logprobs: withLogprobs && d.token >= 0 ? { content: [logprobEntry(s, d)] } : null, finish_reason: d.finishReason ? reportedFinish(d.finishReason) : null }]);
      }
    });
    if (includeUsage) chunk([], { usage: usage(result) });
    stream.write('data: [DONE]\n\n');
  } catch (e) {
    if (!stream.started) throw e; // nothing sent yet: an ordinary error response
    stream.write(`data: ${JSON.stringify({ error: { message: (e as Error).message, type: 'server_error', param: null, code: null } })}\n\n`);
  } finally {
    stream.end();
  }
  return reply;
}

const usage = (r: { promptTokens: number; completionTokens: number }) => ({ prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens });
const modelCard = (s: Service) => ({ id: s.info.name, object: 'model', created: Math.floor(s.started / 1000), owned_by: 'vipllava' });
