/**
 * The checkpoint's tokenizer: tokenizer.json through @huggingface/tokenizers (ids identical to transformers for
 * the Llama-2 vocabulary, legacy "▁" after added tokens included), plus what that library leaves out:
 * special-token ids from tokenizer_config.json / special_tokens_map.json, padded batches, and decoding that
 * matches the Rust decoder exactly (a byte-fallback run that is not valid UTF-8 becomes one U+FFFD per byte).
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { ConfigError, InputError } from '../errors.js';
import { isObject, type Json } from '../config/fields.js';

export type PaddingSide = 'left' | 'right';

export interface BatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
}

type DecoderStep =
  | { type: 'Replace'; pattern: { String?: string }; content: string }
  | { type: 'ByteFallback' }
  | { type: 'Fuse' }
  | { type: 'Strip'; content: string; start: number; stop: number };

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/** The decoder steps when they are all ones decoded here; null sends decoding to the library. */
function ownDecoder(decoder: unknown): DecoderStep[] | null {
  if (!isObject(decoder)) return null;
  const steps = (decoder.type === 'Sequence' ? decoder.decoders : [decoder]) as Json[];
  if (!Array.isArray(steps)) return null;
  for (const s of steps) {
    if (s.type === 'Replace' && typeof (s.pattern as Json)?.String === 'string') continue;
    if (s.type === 'ByteFallback' || s.type === 'Fuse' || s.type === 'Strip') continue;
    return null;
  }
  return steps as unknown as DecoderStep[];
}

function applyDecoder(tokens: string[], steps: DecoderStep[]): string {
  for (const step of steps) {
    switch (step.type) {
      case 'Replace':
        tokens = tokens.map((t) => t.replaceAll(step.pattern.String!, step.content));
        break;
      case 'ByteFallback': {
        const out: string[] = [];
        let bytes: number[] = [];
        const flush = () => {
          if (bytes.length === 0) return;
          try {
            out.push(new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes)));
          } catch {
            out.push(...bytes.map(() => '\ufffd'));
          }
          bytes = [];
        };
        for (const t of tokens) {
          const m = BYTE_TOKEN.exec(t);
          if (m) bytes.push(parseInt(m[1], 16));
          else {
            flush();
            out.push(t);
          }
        }
        flush();
        tokens = out;
        break;
      }
      case 'Fuse':
        tokens = [tokens.join('')];
        break;
      case 'Strip':
        tokens = tokens.map((t) => {
          const chars = [...t];
          let start = 0;
          while (start < step.start && chars[start] === step.content) start++;
          let stop = chars.length;
          while (chars.length - stop < step.stop && stop > start && chars[stop - 1] === step.content) stop--;
          return chars.slice(start, stop).join('');
        });
        break;
    }
  }
  return tokens.join('');
}

/** transformers' clean_up_tokenization (used only when tokenizer_config.json asks for it, and not for BPE models). */
function cleanUpSpaces(text: string): string {
  return text
    .replaceAll(' .', '.').replaceAll(' ?', '?').replaceAll(' !', '!').replaceAll(' ,', ',')
    .replaceAll(" ' ", "'").replaceAll(" n't", "n't").replaceAll(" 'm", "'m").replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve").replaceAll(" 're", "'re");
}

/** A special-token entry of tokenizer_config.json: "<s>" or {"content": "<s>", ...}. */
export function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return null;
}

export class VipLlavaTokenizer {
  private readonly tok: Tokenizer;
  private readonly decoderSteps: DecoderStep[] | null;
  private readonly cleanUp: boolean;
  /** Ids of added tokens marked special (skipped by skipSpecialTokens). */
  readonly specialIds: ReadonlySet<number>;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly unkTokenId: number | null;
  private side: PaddingSide;

  constructor(tokenizerJson: Json, tokenizerConfig: Json = {}, specialTokensMap: Json = {}, source = 'tokenizer.json') {
    try {
      this.tok = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new ConfigError(`${source}: cannot build the tokenizer: ${(e as Error).message}`);
    }
    this.decoderSteps = ownDecoder(tokenizerJson.decoder);
    // transformers 5.x skips the clean-up for a BPE model (it would strip real spaces before punctuation) unless told
    const bpe = isObject(tokenizerJson.model) && tokenizerJson.model.type === 'BPE';
    this.cleanUp =
      tokenizerConfig.clean_up_tokenization_spaces === true && (!bpe || tokenizerConfig.clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output === true);
    const added = Array.isArray(tokenizerJson.added_tokens) ? (tokenizerJson.added_tokens as Json[]) : [];
    this.specialIds = new Set(added.filter((t) => t.special === true).map((t) => t.id as number));
    const id = (key: string) => {
      const s = tokenString(tokenizerConfig[key]) ?? tokenString(specialTokensMap[key]);
      return s === null ? null : this.tok.token_to_id(s) ?? null;
    };
    this.bosTokenId = id('bos_token');
    this.eosTokenId = id('eos_token');
    this.padTokenId = id('pad_token');
    this.unkTokenId = id('unk_token');
    this.side = tokenizerConfig.padding_side === 'right' ? 'right' : 'left';
  }

  /**
   * Where the processor pads a batch by default: tokenizer_config.json's padding_side, else left. Set it to "left"
   * for batched generation, as the VipLlava docs advise (`processor.tokenizer.padding_side = "left"`).
   */
  get paddingSide(): PaddingSide {
    return this.side;
  }

  set paddingSide(side: PaddingSide) {
    if (side !== 'left' && side !== 'right') throw new InputError(`paddingSide must be "left" or "right", got ${JSON.stringify(side)}`);
    this.side = side;
  }

  /** Token ids of `text`; with addSpecialTokens (default) the post-processor adds BOS. */
  encode(text: string, { addSpecialTokens = true }: { addSpecialTokens?: boolean } = {}): number[] {
    if (typeof text !== 'string') throw new InputError(`text to encode must be a string, got ${typeof text}`);
    return this.tok.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  /** Encodes several texts, padded to the longest with the pad token (left by default, as generation needs). */
  encodeBatch(texts: string[], { paddingSide = 'left', addSpecialTokens = true, padding = true }: { paddingSide?: PaddingSide; addSpecialTokens?: boolean; padding?: boolean } = {}): BatchEncoding {
    return this.padBatch(texts.map((t) => this.encode(t, { addSpecialTokens })), { paddingSide, padding });
  }

  /** Token id rows padded to the longest with the pad token (left by default), with their attention mask. */
  padBatch(rows: number[][], { paddingSide = 'left', padding = true }: { paddingSide?: PaddingSide; padding?: boolean } = {}): BatchEncoding {
    const longest = Math.max(0, ...rows.map((r) => r.length));
    if (!padding) {
      if (rows.some((r) => r.length !== longest)) throw new InputError('texts encode to different lengths; pass padding: true');
      return { inputIds: rows, attentionMask: rows.map((r) => r.map(() => 1)) };
    }
    if (this.padTokenId === null && rows.some((r) => r.length !== longest)) {
      throw new InputError('the tokenizer has no pad_token, so a batch of different lengths cannot be padded');
    }
    const pad = this.padTokenId ?? 0;
    const inputIds = rows.map((r) => {
      const fill = Array<number>(longest - r.length).fill(pad);
      return paddingSide === 'left' ? [...fill, ...r] : [...r, ...fill];
    });
    const attentionMask = rows.map((r) => {
      const ones = Array<number>(r.length).fill(1);
      const zeros = Array<number>(longest - r.length).fill(0);
      return paddingSide === 'left' ? [...zeros, ...ones] : [...ones, ...zeros];
    });
    return { inputIds, attentionMask };
  }

  convertIdsToTokens(ids: ArrayLike<number | bigint>): string[] {
    return Array.from(ids, (id) => this.tok.id_to_token(Number(id)) ?? '');
  }

  /** Whether `id` is in the vocabulary (a model's embedding may have more rows than its tokenizer has tokens). */
  hasToken(id: number): boolean {
    return this.tok.id_to_token(id) !== undefined;
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /** Text of `ids` as transformers' decode gives it. Empty input gives "". */
  decode(ids: ArrayLike<number | bigint>, { skipSpecialTokens = false }: { skipSpecialTokens?: boolean } = {}): string {
    let list = Array.from(ids, Number);
    if (skipSpecialTokens) list = list.filter((id) => !this.specialIds.has(id));
    if (list.length === 0) return '';
    let text: string;
    if (this.decoderSteps) {
      const tokens = list.map((id) => this.tok.id_to_token(id)).filter((t): t is string => t !== undefined);
      text = applyDecoder(tokens, this.decoderSteps);
    } else {
      text = this.tok.decode(list, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    }
    return this.cleanUp ? cleanUpSpaces(text) : text;
  }

  get vocabSize(): number {
    return this.tok.get_vocab(true).size;
  }
}
