/**
 * Answers computed by the server that serves the page: OpenAI's Chat Completions, streamed. The image goes as a
 * lossless PNG of what the browser decoded with the prompts beside it, and the server draws them as the page does.
 */
import { DRAW, type Answers, type Question } from './answers.js';
import { pngDataUrl } from './pixels.js';

type Message = { role: 'user' | 'assistant'; content: unknown };

export class ServerAnswers implements Answers {
  readonly where = 'on the server';
  private history: Message[] = [];

  /** `key`: the API key the server asks for, read when a question is sent. */
  constructor(private readonly key: () => string) {}

  reset(): void {
    this.history = [];
  }

  async ask(q: Question, signal: AbortSignal, onText: (text: string) => void): Promise<string> {
    const key = this.key();
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(key && { authorization: `Bearer ${key}` }) };
    const message: Message =
      this.history.length === 0
        ? { role: 'user', content: [{ type: 'image_url', image_url: { url: pngDataUrl(q.image) }, visual_prompts: q.prompts }, { type: 'text', text: q.text }] }
        : { role: 'user', content: q.text };
    let answer = '';
    try {
      const response = await fetch('v1/chat/completions', {
        method: 'POST',
        headers,
        signal,
        body: JSON.stringify({ model: await servedModel(headers), stream: true, max_tokens: q.maxNewTokens, messages: [...this.history, message], visual_prompt_options: DRAW }),
      });
      if (!response.ok) {
        const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
        throw new Error(`the server said: ${body.error?.message ?? `HTTP ${response.status}`}`);
      }
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let pending = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pending += value;
        const events = pending.split('\n\n');
        pending = events.pop()!;
        for (const event of events) {
          const data = event.replace(/^data: /, '');
          if (data === '[DONE]') continue;
          const chunk = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string } }>; error?: { message: string } };
          if (chunk.error) throw new Error(`the server said: ${chunk.error.message}`);
          const text = chunk.choices?.[0]?.delta?.content ?? '';
          answer += text;
          onText(text);
        }
      }
    } catch (e) {
      if (!signal.aborted) throw e;
    }
    this.history.push(message, { role: 'assistant', content: answer });
    return answer;
  }
}

/** The name of the model the server serves (its /v1/models). */
export async function servedModel(headers: Record<string, string> = {}): Promise<string> {
  const r = await fetch('v1/models', { headers });
  const body = (await r.json().catch(() => ({}))) as { data?: Array<{ id: string }>; error?: { message: string } };
  if (!r.ok || !body.data?.[0]) throw new Error(`the server said: ${body.error?.message ?? `HTTP ${r.status}`}`);
  return body.data[0].id;
}
