/**
 * Streaming detokenization: text is released only once it is final. Each step decodes a window that starts a
 * few tokens back, so a leading-space strip or a byte-fallback sequence resolves the same way a full decode
 * would, and holds back text ending in U+FFFD (half a UTF-8 character, e.g. an emoji spread over byte tokens).
 * The pieces put together equal decode(all ids).
 */
import type { VipLlavaTokenizer } from '../processor/tokenizer.js';

export class IncrementalDetokenizer {
  private ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;

  constructor(
    private readonly tokenizer: VipLlavaTokenizer,
    private readonly options: { skipSpecialTokens?: boolean } = { skipSpecialTokens: true },
  ) {}

  /** Adds a token; returns the text that became final (often "", sometimes several characters). */
  push(id: number): string {
    this.ids.push(id);
    const opts = { skipSpecialTokens: this.options.skipSpecialTokens ?? true };
    const prefix = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset), opts);
    const full = this.tokenizer.decode(this.ids.slice(this.prefixOffset), opts);
    if (full.length > prefix.length && !full.endsWith('\ufffd')) {
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
      return full.slice(prefix.length);
    }
    return '';
  }

  /** Whatever is still held back (at the end of a generation). */
  flush(): string {
    const opts = { skipSpecialTokens: this.options.skipSpecialTokens ?? true };
    const prefix = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset), opts);
    const full = this.tokenizer.decode(this.ids.slice(this.prefixOffset), opts);
    this.prefixOffset = this.readOffset = this.ids.length;
    return full.slice(prefix.length);
  }
}
