/**
 * What both APIs share: the loaded model and its continuous batcher (admission bounded), images and visual
 * prompts from requests, the limits, and the metrics. Each API turns its body into a CompletionRequest and its
 * events into its own shape.
 */
import { BUILTIN_TEMPLATES, ContinuousBatcher, drawVisualPrompts, fillPhrases, InputError, type DrawnPrompt, type RgbImage, type VisualPrompt } from '../index.node.js';
import { prepareCompletion, runCompletion, type CompletionRequest, type CompletionResult, type Delta, type Model } from './completion.js';
import { ApiError } from './errors.js';
import { requestImage, type ImagePolicy } from './images.js';
import { Metrics } from './metrics.js';

export interface ModelInfo {
  /** The name clients use (Ollama's `name:latest` also matches). */
  name: string;
  parameters: number;
  /** Bytes of the checkpoint's weight files. */
  sizeBytes: number;
  /** What the weights compute in, e.g. "float16" or "int8". */
  dtype: string;
}

export interface ServiceOptions {
  images: ImagePolicy;
  /** Images per request. */
  maxImages: number;
  /** Requests decoded together (continuous batching). */
  maxBatch: number;
  /** Requests waiting beyond a full batch; more are refused (503). */
  maxQueue: number;
  /** Memory for finished conversations' keys and values, reused by their next turns (bytes). */
  prefixCacheBytes?: number;
  /** Per request, from arrival to its last token. */
  timeoutMs: number;
}

export interface VisualPromptOptions {
  seed?: number;
  style?: 'eval' | 'random';
}

export class Service {
  readonly metrics = new Metrics();
  readonly batcher: ContinuousBatcher;
  readonly started = Date.now();

  constructor(
    readonly model: Model,
    readonly info: ModelInfo,
    readonly options: ServiceOptions,
  ) {
    this.batcher = new ContinuousBatcher(model.model, {
      maxBatch: options.maxBatch,
      prefixCacheBytes: options.prefixCacheBytes,
      onReuse: (tokens) => this.metrics.reusedTokens.inc(tokens),
      onChange: (running, waiting) => {
        this.metrics.batchOccupancy.set(running);
        this.metrics.queueDepth.set(waiting);
      },
    });
  }

  /** Positions the model takes (max_position_embeddings). */
  get contextLength(): number {
    return this.model.model.config.text_config.max_position_embeddings;
  }

  /** The language model's family ("llama", "mistral"). */
  get family(): string {
    return this.model.model.config.text_config.model_type;
  }

  /** The chat template the processor renders with. */
  get chatTemplate(): string {
    return this.model.processor.settings.chatTemplate?.text ?? BUILTIN_TEMPLATES.hub;
  }

  /** A 404 unless `model` names the served model. */
  checkModel(model: string | undefined, param = 'model'): void {
    if (model === undefined || model === this.info.name || model === `${this.info.name}:latest`) return;
    throw new ApiError(404, `model "${model}" is not served here (this server serves "${this.info.name}")`, param, 'model_not_found');
  }

  /** Decodes a request's images, refusing more than maxImages. */
  async images(refs: Array<{ ref: string; param: string }>): Promise<RgbImage[]> {
    if (refs.length > this.options.maxImages) throw new ApiError(400, `${refs.length} images in one request; this server takes at most ${this.options.maxImages}`, 'messages', 'too_many_images');
    return Promise.all(refs.map(({ ref, param }) => requestImage(ref, this.options.images, param)));
  }

  /** Draws visual prompts on an image as the library (and the CLI) does; errors name the field. */
  draw(image: RgbImage, prompts: Array<VisualPrompt & { image?: number }>, o: VisualPromptOptions | undefined, param: string): { image: RgbImage; drawn: DrawnPrompt[] } {
    try {
      // As the CLI: the first prompt is red unless a colour is given; later ones get distinct palette colours.
      const specs = prompts.map(({ image: _, ...p }, i) => (i === 0 && p.color === undefined ? { ...p, color: 'red' } : p));
      const { image: marked, prompts: drawn } = drawVisualPrompts(image, specs, { seed: o?.seed ?? 0, style: o?.style ?? 'eval' });
      return { image: marked, drawn };
    } catch (e) {
      if (e instanceof InputError) throw new ApiError(400, `${param}: ${e.message}`, param, 'invalid_visual_prompt');
      throw e;
    }
  }

  /** {prompt}, {prompt1}, … in a message's text replaced by the phrases of the prompts drawn in it. */
  fill(text: string, drawn: DrawnPrompt[], where: string): string {
    if (drawn.length === 0) return text;
    try {
      return fillPhrases(text, drawn);
    } catch (e) {
      if (e instanceof InputError) throw new ApiError(400, `${where}: ${e.message}`, where, 'invalid_visual_prompt');
      throw e;
    }
  }

  /** Runs a request when the model is free; `signal` is the client going away, and the timeout is added here. */
  async complete(r: CompletionRequest, clientGone: AbortSignal, onDelta: (d: Delta) => void): Promise<CompletionResult> {
    const signal = AbortSignal.any([clientGone, AbortSignal.timeout(this.options.timeoutMs)]);
    const prepared = await prepareCompletion(this.model, r);
    const room = this.contextLength - prepared.promptTokens;
    if (room < 1) throw new ApiError(400, `the prompt has ${prepared.promptTokens} tokens (images included), but the model's context is ${this.contextLength}`, 'messages', 'context_length_exceeded');
    const wanted = r.options.maxNewTokens;
    if (wanted !== undefined && wanted > room) {
      throw new ApiError(400, `the prompt (${prepared.promptTokens} tokens) and ${wanted} new tokens need ${prepared.promptTokens + wanted} positions, but the model's context is ${this.contextLength}; ask for ${room} or fewer`, 'max_tokens', 'context_length_exceeded');
    }
    const n = r.options.numReturnSequences ?? 1;
    const { running, waiting } = this.batcher.size;
    if (running + waiting + n > this.options.maxBatch + this.options.maxQueue) {
      throw new ApiError(503, `the server is busy: ${running} requests are generating and ${waiting} waiting`, null, 'queue_full', 1);
    }
    const queuedAt = performance.now();
    let last: number | null = null;
    const result = await runCompletion(this.model, r, prepared, (o) => this.batcher.generate(o), signal, (d) => {
      if (d.token >= 0) {
        const now = performance.now();
        if (last === null) this.metrics.timeToFirstToken.observe((now - queuedAt) / 1000);
        else this.metrics.tokenLatency.observe((now - last) / 1000);
        last = now;
        this.metrics.tokensGenerated.inc();
      }
      onDelta(d);
    });
    this.metrics.promptTokens.inc(result.promptTokens);
    if (result.completionTokens === 0 && (signal.reason as Error | undefined)?.name === 'TimeoutError') {
      throw new ApiError(503, `the request waited ${this.options.timeoutMs} ms for the model without starting`, null, 'timeout', 1);
    }
    return result;
  }
}
