/**
 * A conversation that keeps its KV cache between turns. Each turn renders the whole conversation with the
 * chat template and tokenizes it, exactly as a from-scratch run would; the tokens that match what the cache
 * already holds are reused, so only the new ones are prefilled and no image is encoded twice. The result is
 * the from-scratch run's, token for token.
 */
import type { DeviceTensor } from '../backend/backend.js';
import * as ops from '../backend/ops.js';
import { InputError } from '../errors.js';
import type { KVCache } from '../models/kv_cache.js';
import type { BuiltinTemplate, ChatMessage, ContentPart } from '../processor/chat_template.js';
import type { ImageInput } from '../processor/image.js';
import { checkAspect, type ImageAspectRatio } from '../processor/image_processor.js';
import type { VipLlavaProcessor } from '../processor/processor.js';
import { decodeTokens, type FinishReason, type TokenEvent } from './generate.js';
import type { GenerationOptions } from './options.js';
import { imageRuns, prefillSuffix, prepare, type GenerativeModel } from './steps.js';

export interface ChatSessionOptions {
  /** "hub", "llava_v1", Jinja source, or undefined for the checkpoint's template. */
  template?: BuiltinTemplate | (string & {});
  /** A system message put first in every rendering. */
  system?: string;
  imageAspectRatio?: ImageAspectRatio;
}

export interface ChatReply {
  text: string;
  tokens: number[];
  finishReason: FinishReason;
  /** Tokens of the rendered conversation, how many were already cached, and how many this turn prefilled. */
  stats: { promptTokens: number; reusedTokens: number; prefilledTokens: number };
}

export class ChatSession {
  readonly messages: ChatMessage[] = [];
  private readonly images: ImageInput[] = [];
  private readonly features: DeviceTensor[] = [];
  private cache: KVCache | null = null;
  /** The tokens whose keys and values the cache holds, in order. */
  private cachedIds: number[] = [];
  /** Settles when the turn in progress ends: turns run one at a time, in the order they were sent. */
  private turn: Promise<void> = Promise.resolve();

  constructor(
    readonly model: GenerativeModel,
    readonly processor: VipLlavaProcessor,
    readonly options: ChatSessionOptions = {},
  ) {
    checkAspect(options.imageAspectRatio);
  }

  /** Forgets the conversation and the cache. */
  reset(): void {
    this.messages.length = 0;
    this.images.length = 0;
    this.features.length = 0;
    this.cache = null;
    this.cachedIds = [];
  }

  /**
   * Sends a user message (text and images, images first) and streams the reply. A message sent while another
   * turn runs waits for it to end (finished, failed or abandoned), so turns never interleave.
   */
  async *send(message: string | { text: string; images?: ImageInput[] }, options: GenerationOptions = {}): AsyncGenerator<TokenEvent, ChatReply> {
    const before = this.turn;
    let done!: () => void;
    this.turn = new Promise<void>((resolve) => (done = resolve));
    try {
      await before;
      return yield* this.runTurn(message, options);
    } finally {
      done();
    }
  }

  private async *runTurn(message: string | { text: string; images?: ImageInput[] }, options: GenerationOptions): AsyncGenerator<TokenEvent, ChatReply> {
    if (typeof message !== 'string' && (typeof message !== 'object' || message === null)) throw new InputError('a chat message is a string or { text, images }');
    const { text, images = [] } = typeof message === 'string' ? { text: message } : message;
    if (typeof text !== 'string') throw new InputError('a chat message needs text');
    if (options.numBeams !== undefined && options.numBeams > 1) throw new InputError('chat sessions stream their replies; beam search is not available here');
    // Images first: a bad one leaves the conversation as it was.
    const features: DeviceTensor[] = [];
    for (const image of images) {
      const { pixelValues } = await this.processor.imageProcessor.preprocess(image, { imageAspectRatio: this.options.imageAspectRatio });
      features.push(this.model.imageFeatures(pixelValues)); // [1, patches, hidden], computed once
    }
    this.images.push(...images);
    this.features.push(...features);
    const content: ContentPart[] = [...images.map(() => ({ type: 'image' as const })), { type: 'text', text }];
    this.messages.push({ role: 'user', content });

    const rendered = this.processor.applyChatTemplate(this.conversation(), { addGenerationPrompt: true, template: this.options.template });
    const ids = this.processor.encodePrompt(rendered);
    const imageToken = this.model.config.image_token_index;
    const runs = imageRuns(ids, imageToken, this.processor.imageTokensPerImage);
    if (runs.length !== this.images.length) {
      throw new InputError(`the rendered conversation has ${runs.length} images but the session holds ${this.images.length}; the chat template must render one ${this.processor.settings.imageToken} per image part`);
    }

    // Reuse the cached prefix; never split an image's tokens; prefill at least one token.
    let reuse = 0;
    while (reuse < this.cachedIds.length && reuse < ids.length - 1 && this.cachedIds[reuse] === ids[reuse]) reuse++;
    for (const run of runs) if (run.start < reuse && reuse < run.end) reuse = run.start;
    this.cache ??= this.model.createCache(1, ids.length + 1);
    this.cache.truncate(Math.min(reuse, this.cache.length));
    this.cache.grow(ids.length + 1);

    const newRuns = runs.map((r, i) => ({ ...r, i })).filter((r) => r.start >= reuse);
    const imageFeatures = newRuns.length === 0 ? null : newRuns.length === 1 ? this.features[newRuns[0].i] : ops.concat(newRuns.map((r) => this.features[r.i]), 0);
    const logits = await prefillSuffix(this.model, ids, this.cache, imageFeatures);
    this.cachedIds = ids.slice();

    const p = prepare(this.model, { ...options, inputIds: [ids] });
    const steps = decodeTokens(this.model, { ...options, inputIds: [ids] }, p, { cache: this.cache, logits });
    const tokens: number[] = [];
    let finishReason: FinishReason = 'length';
    for (;;) {
      const step = await steps.next();
      if (step.done) break;
      const event = step.value;
      if (event.token >= 0) tokens.push(event.token);
      if (event.finishReason) finishReason = event.finishReason;
      yield event;
    }
    this.cachedIds = [...ids, ...tokens].slice(0, this.cache.length);

    let reply = this.processor.tokenizer.decode(tokens, { skipSpecialTokens: true });
    if (finishReason === 'stop_string') {
      const stops = options.stopStrings ?? this.model.generationConfig.stop_strings ?? [];
      const cut = Math.min(...stops.map((s) => reply.indexOf(s)).filter((i) => i >= 0));
      if (Number.isFinite(cut)) reply = reply.slice(0, cut);
    }
    this.messages.push({ role: 'assistant', content: [{ type: 'text', text: reply }] });
    return { text: reply, tokens, finishReason, stats: { promptTokens: ids.length, reusedTokens: reuse, prefilledTokens: ids.length - reuse } };
  }

  /** send() without streaming. */
  async ask(message: string | { text: string; images?: ImageInput[] }, options: GenerationOptions = {}): Promise<ChatReply> {
    const steps = this.send(message, options);
    for (;;) {
      const r = await steps.next();
      if (r.done) return r.value;
    }
  }

  /** The messages as the template sees them (the system message first). */
  conversation(): ChatMessage[] {
    const system: ChatMessage[] = this.options.system === undefined ? [] : [{ role: 'system', content: [{ type: 'text', text: this.options.system }] }];
    return [...system, ...this.messages];
  }

  /** Every image of the conversation, in order (for a from-scratch run). */
  get conversationImages(): readonly ImageInput[] {
    return this.images;
  }
}

