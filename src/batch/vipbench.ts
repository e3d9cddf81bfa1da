/**
 * ViP-Bench: the official answers file and its grading as the original evaluator
 * (scripts/eval/vip-bench_evaluator.py) grades it. The judge is any OpenAI-compatible endpoint, asked with the
 * MM-Vet-style prompt (the few-shot table), max_tokens 3, temperature 0; a reply whose first word is not a score
 * in [0, 1] is asked again with the meta-data's question and "Predict the correctness of the answer (digit): "
 * at temperatures 0, 0.5, 1.0 and 1.5, and scores 0 after that (the original's fifth retry is never read, so it
 * is not sent). Replies are cached by request, so a re-run pays for none twice. Scores are per capability
 * (sum over the samples carrying it ÷ their count × 100) and in total, to one decimal.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { BatchItem } from './items.js';

export const JUDGE_PROMPT = `Compare the ground truth and prediction from AI models, to give a correctness score for the prediction. <AND> in the ground truth means it is totally right only when all elements in the ground truth are present in the prediction, and <OR> means it is totally right when any one element in the ground truth is present in the prediction. The correctness score is 0.0 (totally wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 (totally right). Just complete the last space of the correctness score.

Question | Ground truth | Prediction | Correctness
--- | --- | --- | ---
What is x in the equation within the yellow rectangle? | -1 <AND> -5 | x = 3 | 0.0
What is x in the equation within the yellow rectangle? | -1 <AND> -5 | x = -1 | 0.5
What is x in the equation within the yellow rectangle? | -1 <AND> -5 | x = -5 | 0.5
What is x in the equation within the red rectangle? | -1 <AND> -5 | x = -5 or 5 | 0.5
What is x in the equation within the orange rectangle? | -1 <AND> -5 | x = -1 or x = -5 | 1.0
Can you explain this meme within the blue rectangle? | This meme is poking fun at the fact that the names of the countries Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues because the names of these countries do not accurately represent their landscapes. | The meme talks about Iceland and Greenland. It's pointing out that despite their names, Iceland is not very icy and Greenland isn't very green. | 0.4
Can you explain this meme within the blue rectangle? | This meme is poking fun at the fact that the names of the countries Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues because the names of these countries do not accurately represent their landscapes. | The meme is using humor to point out the misleading nature of Iceland's and Greenland's names. Iceland, despite its name, has lush green landscapes while Greenland is mostly covered in ice and snow. The text 'This is why I have trust issues' is a playful way to suggest that these contradictions can lead to distrust or confusion. The humor in this meme is derived from the unexpected contrast between the names of the countries and their actual physical characteristics. | 1.0
`;

/** The published totals (repo MODEL_ZOO, GPT-4 judge), for the README's reference. */
export const PAPER_TOTALS = { 'ViP-LLaVA-7B': { bbox: 48.4, human: 48.3 }, 'ViP-LLaVA-13B': { bbox: 48.3, human: 48.2 } } as const;

/** The judge's table row for one sample: question | ground truth (with spaced <AND>/<OR>) | prediction | (empty). */
export function judgeQuestion(question: string, truth: string, prediction: string, retry: boolean): string {
  const gt = truth.replace(/<AND>/g, ' <AND> ').replace(/<OR>/g, ' <OR> ');
  return `${JUDGE_PROMPT}\n${[question, gt, prediction, ''].join(' | ')}${retry ? '\nPredict the correctness of the answer (digit): ' : ''}`;
}

/** The score in a judge's reply: its first space-separated word as a decimal number in [0, 1], else null. */
export function parseScore(content: string): number | null {
  const word = content.split(' ')[0].trim();
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(word)) return null;
  const v = Number(word);
  return v >= 0 && v <= 1 ? v : null;
}

export interface JudgeOptions {
  /** The endpoint's base URL, e.g. https://api.openai.com/v1 or http://127.0.0.1:8080/v1. */
  url: string;
  model: string;
  key?: string;
  /** The cache of replies (JSONL, one per request). */
  cacheFile: string;
}

export interface Grade {
  id: string;
  score: number;
  /** The reply the score came from (the last one when none parsed). */
  content: string;
  /** Requests made for it, cached or not. */
  tries: number;
}

/** A judge that remembers every reply it got, by request, in a JSONL file. */
export class Judge {
  private readonly cache = new Map<string, string>();
  /** Requests sent to the endpoint (not answered from the cache). */
  sent = 0;

  constructor(readonly o: JudgeOptions) {
    if (existsSync(o.cacheFile)) {
      for (const line of readFileSync(o.cacheFile, 'utf8').split('\n')) {
        if (!line) continue;
        try {
          const { key, content } = JSON.parse(line) as { key: string; content: string };
          this.cache.set(key, content);
        } catch {
          // a line cut short by a kill: asked again
        }
      }
    }
  }

  private async ask(content: string, temperature: number): Promise<string> {
    const body = { model: this.o.model, max_tokens: 3, temperature, messages: [{ role: 'user', content }] };
    const key = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const url = `${this.o.url.replace(/\/+$/, '')}/chat/completions`;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(this.o.key && { authorization: `Bearer ${this.o.key}` }) }, body: JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
      } catch (e) {
        if (attempt >= 4) throw new Error(`the judge at ${url} cannot be reached: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt));
        continue;
      }
      this.sent++;
      if ((res.status === 429 || res.status >= 500) && attempt < 4) {
        await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt));
        continue;
      }
      const reply = (await res.json().catch(() => null)) as { choices?: Array<{ message?: { content?: string } }>; error?: { message?: string } } | null;
      if (!res.ok) throw new Error(`the judge at ${url} said HTTP ${res.status}: ${reply?.error?.message ?? 'no message'}`);
      const text = reply?.choices?.[0]?.message?.content;
      if (typeof text !== 'string') throw new Error(`the judge at ${url} sent a reply without choices[0].message.content`);
      this.cache.set(key, text);
      appendFileSync(this.o.cacheFile, `${JSON.stringify({ key, content: text })}\n`);
      return text;
    }
  }

  /** One sample graded: the split's question first, then the meta-data's question with the digit prompt. */
  async grade(id: string, question: string, metaQuestion: string, truth: string, prediction: string): Promise<Grade> {
    let content = await this.ask(judgeQuestion(question, truth, prediction, false), 0);
    let tries = 1;
    for (const temperature of [0, 0.5, 1, 1.5]) {
      const score = parseScore(content);
      if (score !== null) return { id, score, content, tries };
      content = await this.ask(judgeQuestion(metaQuestion, truth, prediction, true), temperature);
      tries++;
    }
    return { id, score: parseScore(content) ?? 0, content, tries };
  }
}

export interface Scores {
  /** Capability → score ×100 (one decimal), in the order of their counts, most common first; then "total". */
  rows: Array<{ capability: string; samples: number; score: number }>;
}

/** The evaluator's aggregation: per capability, sum of its samples' scores ÷ their count × 100; total the mean × 100. */
export function score(items: BatchItem[], grades: Map<string, number>): Scores {
  const sums = new Map<string, { n: number; sum: number }>();
  let total = 0;
  for (const it of items) {
    const s = grades.get(it.id) ?? 0;
    total += s;
    for (const c of new Set((it.meta?.capability as string[] | undefined) ?? [])) {
      const e = sums.get(c) ?? { n: 0, sum: 0 };
      e.n++;
      e.sum += s;
      sums.set(c, e);
    }
  }
  const round = (v: number) => Math.round(v * 10) / 10;
  const rows = [...sums].sort((a, b) => b[1].n - a[1].n).map(([capability, e]) => ({ capability, samples: e.n, score: round((e.sum / e.n) * 100) }));
  rows.push({ capability: 'total', samples: items.length, score: round((total / Math.max(items.length, 1)) * 100) });
  return { rows };
}
