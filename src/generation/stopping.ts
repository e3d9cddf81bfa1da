/**
 * Stop strings as transformers' StopStringCriteria matches them: a stop string counts when it ends inside the
 * newest token, so it is caught across token boundaries ("###" from "#", "##") and when the newest token runs
 * past it ("###Hu"), but an old occurrence never stops generation again.
 */
import type { VipLlavaTokenizer } from '../processor/tokenizer.js';

export class StopStringMatcher {
  private readonly window: number;
  private readonly anchor: number[];

  constructor(
    private readonly tokenizer: VipLlavaTokenizer,
    private readonly stops: readonly string[],
  ) {
    // Every token adds at least one character, so this many tokens cover any stop string and the newest token.
    this.window = Math.max(...stops.map((s) => s.length)) + 1;
    // Decoding after a fixed token keeps the decoder from stripping the window's leading space.
    this.anchor = tokenizer.encode('a', { addSpecialTokens: false });
  }

  /** Whether a stop string ends within the last token of `ids`. */
  matches(ids: readonly number[]): boolean {
    if (this.stops.length === 0 || ids.length === 0) return false;
    let window = ids.slice(-this.window);
    // An id the tokenizer has no token for (the model's vocabulary can be larger, as Phi-3's) has no text for
    // transformers' StopStringCriteria, so no stop string runs across it.
    for (let i = window.length - 1; i >= 0; i--) {
      if (!this.tokenizer.hasToken(window[i])) {
        window = window.slice(i + 1);
        break;
      }
    }
    if (window.length === 0) return false;
    const before = this.tokenizer.decode([...this.anchor, ...window.slice(0, -1)]);
    const text = this.tokenizer.decode([...this.anchor, ...window]);
    const anchorLength = this.tokenizer.decode(this.anchor).length;
    const lastStart = Math.min(before.length, text.length);
    for (const stop of this.stops) {
      for (let at = text.indexOf(stop, anchorLength); at >= 0; at = text.indexOf(stop, at + 1)) {
        if (at + stop.length > lastStart) return true;
      }
    }
    return false;
  }
}

/**
 * Streamed text with stop strings held back: text that could be the start of a stop string is kept until the
 * next piece shows whether it is; once a stop string completes, it and everything after it are dropped.
 */
export class StopStringFilter {
  private pending = '';
  private stopped = false;

  constructor(private readonly stops: readonly string[]) {}

  /** The part of `text` that is certainly not (part of) a stop string. */
  push(text: string): string {
    if (this.stopped) return '';
    this.pending += text;
    for (const s of this.stops) {
      const at = this.pending.indexOf(s);
      if (at >= 0) {
        this.stopped = true;
        const out = this.pending.slice(0, at);
        this.pending = '';
        return out;
      }
    }
    let hold = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, this.pending.length); n > hold; n--) {
        if (this.pending.endsWith(s.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    const out = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return out;
  }

  /** What is still held back (when generation ended for another reason). */
  flush(): string {
    const out = this.stopped ? '' : this.pending;
    this.pending = '';
    return out;
  }
}
