/**
 * Answers computed in this browser: the checkpoint loaded over HTTP range requests (kept in the Cache API, so a
 * later visit reads nothing again), on WebGPU where navigator.gpu gives an adapter, else on the reference CPU
 * engine; a ChatSession keeps the conversation's keys and values between turns. The model sees the image with
 * the prompts drawn as the server would draw them, padded to a square as ViP-LLaVA was trained, and stops at
 * the template's "###" as the server does, so the answers are the server's.
 */
import { ChatSession, StopStringFilter, VipLlavaForConditionalGeneration, VipLlavaProcessor, type ProgressEvent } from '../index.js';
import type { Answers, Question } from './answers.js';

/** The hub template's turn separator, a stop string (as `vipllava serve` has it). */
const STOPS = ['###'];

export interface Checkpoint {
  /** A hub repository id, or the name of the model the page's server shares under /hub. */
  repo: string;
  /** The hub endpoint ("https://huggingface.co", or the page's server's origin + "/hub"). */
  endpoint: string;
  token?: string;
}

export class BrowserAnswers implements Answers {
  private session: ChatSession | null = null;

  private constructor(
    readonly model: VipLlavaForConditionalGeneration,
    readonly processor: VipLlavaProcessor,
    readonly where: string,
  ) {}

  /** Loads the checkpoint: on WebGPU when it works here, else on the CPU (the status says why). */
  static async load(c: Checkpoint, onProgress: (p: ProgressEvent) => void): Promise<BrowserAnswers> {
    const hub = { endpoint: c.endpoint, token: c.token || undefined };
    const processor = await VipLlavaProcessor.fromPretrained(c.repo, hub);
    let model: VipLlavaForConditionalGeneration;
    let where: string;
    try {
      model = await VipLlavaForConditionalGeneration.fromPretrained(c.repo, { ...hub, device: 'webgpu', onProgress });
      where = `in this browser, ${model.backend.describe()}`;
    } catch (e) {
      const why = (e as Error).message;
      model = await VipLlavaForConditionalGeneration.fromPretrained(c.repo, { ...hub, engine: 'reference', onProgress });
      where = `in this browser, on the CPU (${why})`;
    }
    return new BrowserAnswers(model, processor, where);
  }

  reset(): void {
    this.session = null;
  }

  async ask(q: Question, signal: AbortSignal, onText: (text: string) => void): Promise<string> {
    const first = this.session === null;
    const session = (this.session ??= new ChatSession(this.model, this.processor, { imageAspectRatio: q.prompts.length > 0 ? 'pad' : undefined }));
    const filter = new StopStringFilter(STOPS);
    const before = session.messages.length;
    try {
      const steps = session.send({ text: q.text, images: first ? [q.marked] : [] }, { maxNewTokens: q.maxNewTokens, stopStrings: STOPS, tokenizer: this.processor.tokenizer, signal });
      for (;;) {
        const step = await steps.next();
        if (step.done) return step.value.text;
        onText(filter.push(step.value.text) + (step.value.finishReason ? filter.flush() : ''));
      }
    } catch (e) {
      // nothing of a failed turn stays: the session's cache matches its messages again at the next turn
      if (first) this.session = null;
      else session.messages.length = before;
      throw e;
    }
  }
}
