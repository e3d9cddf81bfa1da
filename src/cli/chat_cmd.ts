/**
 * `vipllava chat`: an interactive conversation about images. The KV cache is kept between turns, so a
 * follow-up only prefills its own tokens. Ctrl-C cancels the answer being written; at an empty prompt it (or
 * Ctrl-D, or /exit) leaves.
 */
import { createInterface } from 'node:readline';
import { ChatSession, StopStringFilter, VipLlavaForConditionalGeneration, VipLlavaProcessor, type ImageInput, type ResolveOptions } from '../index.node.js';
import { generationOptions } from './generation_flags.js';
import { promptedInputs } from './generate_cmd.js';

export interface ChatArgs {
  model: string;
  images: string[];
  system?: string;
  template?: string;
  aspect?: 'crop' | 'pad';
  flags: Parameters<typeof promptedInputs>[0]['flags'];
  hub: ResolveOptions;
}

const HELP = 'commands: /image <file> attaches an image to your next message, /reset starts over, /exit leaves (or Ctrl-D); Ctrl-C stops an answer';

export async function chatCommand(a: ChatArgs): Promise<void> {
  const options = generationOptions(a.flags, a.template === undefined || a.template === 'hub'); // bad flags and images fail before the model loads
  const { images, aspect } = await promptedInputs(a, undefined, (w) => process.stderr.write(`${w}\n`));
  const processor = await VipLlavaProcessor.fromPretrained(a.model, a.hub);
  const model = await VipLlavaForConditionalGeneration.fromPretrained(a.model, a.hub);
  const session = new ChatSession(model, processor, { template: a.template, system: a.system, imageAspectRatio: aspect });
  let pending: ImageInput[] = [...images];
  let generating: AbortController | null = null;

  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
  const out = (s: string) => process.stdout.write(s);
  out(`${HELP}\n`);
  rl.on('SIGINT', () => {
    if (generating) generating.abort();
    else if (rl.line.length > 0) {
      rl.write(null, { ctrl: true, name: 'u' }); // clear the line
    } else rl.close();
  });
  const prompt = () => {
    rl.setPrompt(pending.length ? `[${pending.length} image${pending.length > 1 ? 's' : ''}] > ` : '> ');
    rl.prompt();
  };

  const answer = async (text: string) => {
    generating = new AbortController();
    const filter = new StopStringFilter(options.stopStrings ?? []);
    const images = pending;
    pending = [];
    try {
      const steps = session.send({ text, images }, { ...options, tokenizer: processor.tokenizer, signal: generating.signal });
      for (;;) {
        const step = await steps.next();
        if (step.done) {
          if (step.value.finishReason === 'abort') out(' [cancelled]');
          break;
        }
        out(filter.push(step.value.text) + (step.value.finishReason ? filter.flush() : ''));
      }
      out('\n');
    } catch (e) {
      out(`\nvipllava: ${(e as Error).message}\n`);
    } finally {
      generating = null;
    }
  };

  prompt();
  for await (const line of rl) {
    const text = line.trim();
    if (text === '/exit' || text === '/quit') break;
    if (text === '/reset') {
      session.reset();
      pending = [];
      out('(conversation cleared)\n');
    } else if (text.startsWith('/image')) {
      const file = text.slice('/image'.length).trim();
      if (!file) out('usage: /image <file>\n');
      else pending.push(file);
    } else if (text === '/help') out(`${HELP}\n`);
    else if (text) await answer(text);
    prompt();
  }
  rl.close();
  out('\n');
}
