/**
 * Answers items with one loaded model: the image read, its prompts drawn (as the CLI and the server draw them:
 * the first one red unless a colour is given, padded to a square as ViP-LLaVA was trained), the question put
 * through the chat template, and the reply decoded greedily (or as the options say) by a ContinuousBatcher, so
 * items that are asked together are decoded together and each gets the answer it gets alone. A bad item (its
 * image missing or undecodable, a prompt that cannot be drawn) gives an error result; a failure of the engine
 * itself is thrown.
 */
import {
  ContinuousBatcher,
  drawPlan,
  drawVisualPrompts,
  fillPhrases,
  InputError,
  loadImage,
  type GenerationOptions,
  type RgbImage,
  type VipLlavaForConditionalGeneration,
  type VipLlavaProcessor,
} from '../index.node.js';
import type { BatchItem, BatchResult } from './items.js';

/** How every item of a run is asked (the same on every worker: it travels with the jobs). */
export interface ItemSettings {
  /** "hub", "llava_v1" or Jinja source; default the checkpoint's template. */
  template?: string;
  system?: string;
  /** Generation settings over the checkpoint's generation_config.json (greedy for ViP-LLaVA). */
  generation?: GenerationOptions;
  /** pad or crop; default pad where prompts are drawn (as ViP-LLaVA was trained), else the processor's. */
  imageAspectRatio?: 'pad' | 'crop';
}

export interface AnswerOptions {
  /** Items decoded together. */
  batchSize: number;
  /** Remote images: how long to wait. */
  fetchTimeoutMs?: number;
}

/** An item's error, or rethrows what is not the item's fault. */
function itemError(e: unknown): string {
  if (e instanceof InputError || e instanceof ItemError) return e.message;
  throw e;
}

class ItemError extends Error {}

async function readImage(ref: string, timeoutMs: number): Promise<RgbImage> {
  if (/^https?:/i.test(ref) || /^data:/i.test(ref)) {
    let res: Response;
    try {
      res = await fetch(ref, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      throw new ItemError(`cannot fetch the image ${ref.slice(0, 80)}: ${(e as Error).message}`);
    }
    if (!res.ok) throw new ItemError(`the image ${ref.slice(0, 80)} gave HTTP ${res.status}`);
    return loadImage(new Uint8Array(await res.arrayBuffer()));
  }
  return loadImage(ref.startsWith('file:') ? new URL(ref).pathname : ref); // a missing file is an InputError naming it
}

export class ItemAnswerer {
  readonly batcher: ContinuousBatcher;

  constructor(
    readonly model: VipLlavaForConditionalGeneration,
    readonly processor: VipLlavaProcessor,
    readonly options: AnswerOptions,
  ) {
    this.batcher = new ContinuousBatcher(model, { maxBatch: options.batchSize, prefixCacheBytes: 0 });
  }

  /** The item's answer (or its error); the model's own failures are thrown. */
  async answer(item: BatchItem, settings: ItemSettings = {}, signal?: AbortSignal): Promise<BatchResult> {
    let inputs: Awaited<ReturnType<VipLlavaProcessor['process']>>;
    try {
      inputs = await this.inputs(item, settings);
    } catch (e) {
      return { id: item.id, error: itemError(e) };
    }
    const promptTokens = inputs.inputIds.dims[1];
    const room = this.model.config.text_config.max_position_embeddings - promptTokens;
    if (room < 1) return { id: item.id, error: `the prompt has ${promptTokens} tokens (the image included), more than the model's context` };
    const g = settings.generation ?? {};
    const tokens: number[] = [];
    let finish = 'length';
    for await (const e of this.batcher.generate({ ...inputs, ...g, maxNewTokens: Math.min(g.maxNewTokens ?? room, room), tokenizer: this.processor.tokenizer, signal })) {
      if (e.token >= 0) tokens.push(e.token);
      if (e.finishReason) finish = e.finishReason;
    }
    let answer = this.processor.tokenizer.decode(tokens, { skipSpecialTokens: true });
    for (const s of g.stopStrings ?? []) if (answer.includes(s)) answer = answer.slice(0, answer.indexOf(s));
    return { id: item.id, answer: answer.trim(), finish_reason: finish, prompt_tokens: promptTokens, completion_tokens: tokens.length };
  }

  /** The item's model inputs: image read, prompts drawn, question templated and tokenized. */
  private async inputs(item: BatchItem, settings: ItemSettings) {
    const scene = await readImage(item.image, this.options.fetchTimeoutMs ?? 10_000);
    let image = scene;
    let question = item.question;
    let drawn = false; // pad to a square, as ViP-LLaVA was trained, unless the settings say otherwise
    if (item.plan) {
      if (!item.plan_rgba) throw new ItemError('an item with a plan needs plan_rgba, the ink it is drawn in');
      image = drawPlan(scene, item.plan, item.plan_rgba);
    } else if (item.visual_prompts?.length) {
      const specs = item.visual_prompts.map((p, i) => (i === 0 && p.color === undefined ? { ...p, color: 'red' } : p));
      const o = item.visual_prompt_options ?? {};
      const r = drawVisualPrompts(scene, specs, { seed: o.seed ?? 0, style: o.style ?? 'eval' });
      [image, drawn] = [r.image, true];
      question = fillPhrases(question, r.prompts);
    }
    const messages = [
      ...(settings.system === undefined ? [] : [{ role: 'system', content: [{ type: 'text' as const, text: settings.system }] }]),
      { role: 'user', content: [{ type: 'image' as const }, { type: 'text' as const, text: question }] },
    ];
    const prompt = this.processor.applyChatTemplate(messages, { addGenerationPrompt: true, template: settings.template });
    return this.processor.process({ text: prompt, images: [image], imageAspectRatio: settings.imageAspectRatio ?? (drawn ? 'pad' : undefined) });
  }
}
