/** `vipllava generate`: one question about zero or more images, the answer streamed as it is produced. */
import { loadImage, StopStringFilter, VipLlavaForConditionalGeneration, VipLlavaProcessor, type ChatMessage, type ContentPart, type ResolveOptions, type RgbImage } from '../index.node.js';
import { generationOptions, Interrupted, UsageError } from './generation_flags.js';
import { cropWarnings, drawOnImage, fillPromptText, visualPrompts } from './visual_prompt_flags.js';

export interface GenerateArgs {
  model: string;
  images: string[];
  prompt: string;
  system?: string;
  template?: string;
  /** undefined: 'pad' when visual prompts are drawn, else 'crop'. */
  aspect?: 'crop' | 'pad';
  json: boolean;
  flags: Parameters<typeof generationOptions>[0] & Parameters<typeof visualPrompts>[0];
  hub: ResolveOptions;
}

/** The images with the visual prompts drawn on the first, the question with {prompt} filled in, and the aspect mode. */
export async function promptedInputs(a: Pick<GenerateArgs, 'images' | 'aspect' | 'flags'>, question: string | undefined, warn: (s: string) => void) {
  if (question?.includes('<image>')) throw new UsageError('the prompt contains "<image>"; leave it out: the command puts one image marker per --image before the text itself');
  const prompts = visualPrompts(a.flags);
  const images: RgbImage[] = await Promise.all(a.images.map((file) => loadImage(file))); // decoded now, before any model loads
  let text = question;
  let aspect = a.aspect ?? 'crop';
  if (prompts.length > 0) {
    if (images.length === 0) throw new UsageError('visual prompts are drawn on the first --image; give one');
    const { image, drawn } = await drawOnImage(images[0], prompts, a.flags);
    images[0] = image;
    if (text !== undefined) text = fillPromptText(text, drawn);
    aspect = a.aspect ?? 'pad'; // ViP-LLaVA saw whole images padded to a square, prompts included
    if (aspect === 'crop') for (const w of cropWarnings(image, drawn)) warn(`vipllava: warning: ${w}`);
  } else if (text !== undefined && /\{prompt\d*\}/.test(text)) {
    throw new UsageError('{prompt} in the prompt, but no visual prompt was given (--box, --polygon or --point)');
  }
  return { images, text, aspect };
}

export async function generateCommand(a: GenerateArgs, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const hubTemplate = a.template === undefined || a.template === 'hub';
  const options = generationOptions(a.flags, hubTemplate);
  const { images, text, aspect } = await promptedInputs(a, a.prompt, (w) => process.stderr.write(`${w}\n`)); // bad flags and images fail before the model loads
  const processor = await VipLlavaProcessor.fromPretrained(a.model, a.hub);
  const model = await VipLlavaForConditionalGeneration.fromPretrained(a.model, a.hub);
  const messages: ChatMessage[] = [];
  if (a.system !== undefined) messages.push({ role: 'system', content: [{ type: 'text', text: a.system }] });
  const content: ContentPart[] = [...images.map(() => ({ type: 'image' as const })), { type: 'text', text: text! }];
  messages.push({ role: 'user', content });
  const prompt = processor.applyChatTemplate(messages, { addGenerationPrompt: true, template: a.template });
  const inputs = await processor.process({ text: prompt, images, imageAspectRatio: aspect });
  const promptLength = inputs.inputIds.dims[1];
  const stopFilter = new StopStringFilter(options.stopStrings ?? []);

  // Ctrl-C stops the generation between tokens; what was produced is printed, and the command exits 130.
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    if ((options.numBeams ?? 1) > 1) {
      const sequences = await model.generate({ ...inputs, ...options, tokenizer: processor.tokenizer, signal: ac.signal });
      const newIds = (sequences.tolist() as number[][])[0].slice(promptLength).filter((id) => id !== processor.tokenizer.padTokenId);
      const answer = stopFilter.push(processor.tokenizer.decode(newIds, { skipSpecialTokens: true })) + stopFilter.flush();
      const finishReason = ac.signal.aborted ? 'abort' : undefined;
      out.write(a.json ? `${JSON.stringify({ answer, prompt, new_ids: newIds, ...(finishReason && { finish_reason: finishReason }) })}\n` : `${answer}\n`);
    } else {
      const newIds: number[] = [];
      let answer = '';
      let finishReason = 'length';
      for await (const event of model.generateStream({ ...inputs, ...options, tokenizer: processor.tokenizer, signal: ac.signal })) {
        if (event.token >= 0) newIds.push(event.token);
        const text = stopFilter.push(event.text) + (event.finishReason ? stopFilter.flush() : '');
        answer += text;
        if (!a.json && text) out.write(text);
        if (event.finishReason) finishReason = event.finishReason;
      }
      out.write(a.json ? `${JSON.stringify({ answer, prompt, new_ids: newIds, finish_reason: finishReason })}\n` : '\n');
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (ac.signal.aborted) throw new Interrupted();
}

export function parseAspect(value: string | undefined): 'crop' | 'pad' | undefined {
  if (value !== undefined && value !== 'crop' && value !== 'pad') throw new UsageError(`--image-aspect-ratio must be crop or pad, got "${value}"`);
  return value;
}
