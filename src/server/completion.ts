/**
 * One chat completion, whichever API asked for it: the conversation rendered with the checkpoint's chat template,
 * its images preprocessed, and the reply streamed as text deltas per choice. Stop strings end a choice and are
 * cut from its text, as both APIs define them.
 */
import {
  StopStringFilter,
  type ChatMessage,
  type ContentPart,
  type FinishReason,
  type GenerateOptions,
  type GenerationOptions,
  type ImageAspectRatio,
  type RgbImage,
  type TokenEvent,
  type VipLlavaForConditionalGeneration,
  type VipLlavaProcessor,
} from '../index.node.js';

export type Part = { type: 'text'; text: string } | { type: 'image'; image: RgbImage };
export interface Turn {
  role: 'system' | 'user' | 'assistant';
  parts: Part[];
}

export interface CompletionRequest {
  turns: Turn[];
  /** Generation options; maxNewTokens absent means "as many as the context leaves". */
  options: GenerationOptions;
  imageAspectRatio?: ImageAspectRatio;
  /** Stop strings the client gave, next to the template's own. */
  stop: string[];
}

export interface Delta {
  choice: number;
  text: string;
  token: number;
  logprob?: number;
  topLogprobs?: Array<{ token: number; logprob: number }>;
  finishReason?: 'stop' | 'length' | 'abort';
}

export interface CompletionResult {
  choices: Array<{ text: string; finishReason: 'stop' | 'length' | 'abort'; tokens: number }>;
  promptTokens: number;
  completionTokens: number;
  /** Nanoseconds, as Ollama reports them. */
  timings: { promptNs: number; generateNs: number };
}

export interface Model {
  model: VipLlavaForConditionalGeneration;
  processor: VipLlavaProcessor;
  /** The template's own turn separator, always a stop string ("###" for the hub template), or none. */
  templateStops: string[];
}

/** A choice's end as both APIs report it: a reply cut short by the timeout counts as one cut by length. */
export const reportedFinish = (r: 'stop' | 'length' | 'abort'): 'stop' | 'length' => (r === 'abort' ? 'length' : r);

const finish = (r: FinishReason): 'stop' | 'length' | 'abort' => (r === 'eos' || r === 'stop_string' ? 'stop' : r === 'abort' ? 'abort' : 'length');

/** Renders, tokenizes and preprocesses a request; the prompt's token count is known before any generation. */
export async function prepareCompletion(m: Model, r: CompletionRequest) {
  const images = r.turns.flatMap((t) => t.parts.flatMap((p) => (p.type === 'image' ? [p.image] : [])));
  const messages: ChatMessage[] = r.turns.map((t) => ({
    role: t.role,
    content: t.parts.map((p): ContentPart => (p.type === 'image' ? { type: 'image' } : { type: 'text', text: p.text })),
  }));
  const prompt = m.processor.applyChatTemplate(messages, { addGenerationPrompt: true });
  const inputs = await m.processor.process({ text: prompt, images, imageAspectRatio: r.imageAspectRatio });
  return { prompt, inputs, promptTokens: inputs.inputIds.dims[1] };
}

/** Runs a prepared request, its choices decoded by `generate` (the shared batch), calling `onDelta` as each choice's text grows. */
export async function runCompletion(
  m: Model,
  r: CompletionRequest,
  prepared: Awaited<ReturnType<typeof prepareCompletion>>,
  generate: (o: GenerateOptions) => AsyncIterable<TokenEvent>,
  signal: AbortSignal,
  onDelta: (d: Delta) => void,
): Promise<CompletionResult> {
  const { inputs, promptTokens } = prepared;
  const limit = m.model.config.text_config.max_position_embeddings;
  const maxNewTokens = r.options.maxNewTokens ?? Math.max(1, limit - promptTokens);
  const stopStrings = [...new Set([...m.templateStops, ...r.stop])];
  const n = r.options.numReturnSequences ?? 1;
  const started = process.hrtime.bigint();
  let firstToken: bigint | null = null;
  // n choices are n rows of the batch, sampled with seeds seed, seed + 1, … (or each a random one).
  const choices = await Promise.all(
    Array.from({ length: n }, async (_, choice) => {
      const filter = new StopStringFilter(stopStrings);
      const c = { text: '', finishReason: 'length' as 'stop' | 'length' | 'abort', tokens: 0 };
      const seed = r.options.seed === undefined ? undefined : r.options.seed + choice;
      const o: GenerateOptions = { ...inputs, ...r.options, numReturnSequences: 1, seed, maxNewTokens, stopStrings, tokenizer: m.processor.tokenizer, signal };
      for await (const e of generate(o)) {
        firstToken ??= process.hrtime.bigint();
        const text = filter.push(e.text) + (e.finishReason ? filter.flush() : '');
        c.text += text;
        if (e.token >= 0) c.tokens++;
        if (e.finishReason) c.finishReason = finish(e.finishReason);
        onDelta({ choice, text, token: e.token, logprob: e.logprob, topLogprobs: e.topLogprobs, finishReason: e.finishReason && finish(e.finishReason) });
      }
      return c;
    }),
  );
  const ended = process.hrtime.bigint();
  firstToken ??= ended;
  return {
    choices,
    promptTokens,
    completionTokens: choices.reduce((s, c) => s + c.tokens, 0),
    timings: { promptNs: Number(firstToken - started), generateNs: Number(ended - firstToken) },
  };
}
