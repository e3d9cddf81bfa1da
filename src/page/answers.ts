/** What the page asks of whoever computes the answers: the server over its API, or the model in this browser. */
import type { RgbImage, VisualPrompt } from '../index.js';

/** How the page draws prompts (and asks the server to): the evaluation style, seed 0. */
export const DRAW = { seed: 0, style: 'eval' as const };

export interface Question {
  /** The image as opened, the same image with the prompts drawn (what the model sees), and the prompts. */
  image: RgbImage;
  marked: RgbImage;
  prompts: VisualPrompt[];
  /** The question, its {prompt} placeholders already filled. */
  text: string;
  maxNewTokens: number;
}

export interface Answers {
  /** Where the answers are computed, for the status line. */
  readonly where: string;
  /**
   * Asks a question (the first of a conversation carries the image; later ones only their text) and streams the
   * answer's text. Stopped by `signal`, the partial answer stays in the conversation; on an error nothing does.
   */
  ask(q: Question, signal: AbortSignal, onText: (text: string) => void): Promise<string>;
  /** Starts a new conversation. */
  reset(): void;
}
