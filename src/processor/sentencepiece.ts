/**
 * SentencePiece `tokenizer.model` files (the only tokenizer the original ViP-LLaVA checkpoints ship): the
 * ModelProto read from its protobuf bytes, and turned into the tokenizer.json that transformers 5.x builds
 * from it (LlamaTokenizer over SentencePieceExtractor): the pieces as a byte-fallback BPE vocabulary in id
 * order, merges for every split of a piece into two pieces ranked by the merged piece's id, a Metaspace
 * pre-tokenizer (prepend "always" when legacy, "first" otherwise), Llama's decoder, BOS/EOS from
 * tokenizer_config.json, control pieces as special added tokens and user-defined pieces as plain ones.
 * With `prependNormalizer`, what transformers 4.37 and older made of it for LlamaTokenizerFast instead: no
 * pre-tokenizer and a Prepend("▁") + Replace(" ", "▁") normalizer, which puts "▁" before every text between
 * special tokens (even one that starts with a space) whatever `legacy` says.
 */
import { ConfigError } from '../errors.js';
import type { Json } from '../config/fields.js';
import { tokenString } from './tokenizer.js';

/** sentencepiece_model.proto's SentencePiece.Type. */
const PIECE_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;
/** TrainerSpec.ModelType. */
const MODEL_TYPES = ['?', 'unigram', 'bpe', 'word', 'char'] as const;

export interface SentencePiece {
  piece: string;
  score: number;
  type: number;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  modelType: string;
  byteFallback: boolean;
  addDummyPrefix: boolean;
}

/** A protobuf message's fields in order: [field number, wire type, value (number, or bytes for type 2)]. */
function* fields(bytes: Uint8Array, what: string): Generator<[number, number, number | Uint8Array]> {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (at >= bytes.length) throw new ConfigError(`${what}: truncated protobuf varint`);
      const b = bytes[at++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
      if (scale > 2 ** 63) throw new ConfigError(`${what}: protobuf varint too long`);
    }
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  while (at < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    const need = (n: number) => {
      if (at + n > bytes.length) throw new ConfigError(`${what}: truncated protobuf field ${field}`);
    };
    if (wire === 0) yield [field, wire, varint()];
    else if (wire === 1) {
      need(8);
      yield [field, wire, view.getFloat64(at, true)];
      at += 8;
    } else if (wire === 2) {
      const n = varint();
      need(n);
      yield [field, wire, bytes.subarray(at, at + n)];
      at += n;
    } else if (wire === 5) {
      need(4);
      yield [field, wire, view.getFloat32(at, true)];
      at += 4;
    } else throw new ConfigError(`${what}: not a SentencePiece model (protobuf wire type ${wire} in field ${field})`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a tokenizer.model (ModelProto). `what` names the file in errors. */
export function parseSentencePieceModel(bytes: Uint8Array, what = 'tokenizer.model'): SentencePieceModel {
  const model: SentencePieceModel = { pieces: [], modelType: 'unigram', byteFallback: false, addDummyPrefix: true };
  for (const [field, wire, value] of fields(bytes, what)) {
    if (wire !== 2) continue;
    const body = value as Uint8Array;
    if (field === 1) {
      const p: SentencePiece = { piece: '', score: 0, type: PIECE_TYPE.normal };
      for (const [f, w, v] of fields(body, what)) {
        if (f === 1 && w === 2) p.piece = utf8.decode(v as Uint8Array);
        else if (f === 2 && w === 5) p.score = v as number;
        else if (f === 3 && w === 0) p.type = v as number;
      }
      model.pieces.push(p);
    } else if (field === 2) {
      for (const [f, w, v] of fields(body, what)) {
        if (f === 3 && w === 0) model.modelType = MODEL_TYPES[v as number] ?? `type ${v}`;
        else if (f === 35 && w === 0) model.byteFallback = v !== 0;
      }
    } else if (field === 3) {
      for (const [f, w, v] of fields(body, what)) if (f === 3 && w === 0) model.addDummyPrefix = v !== 0;
    }
  }
  if (model.pieces.length === 0) throw new ConfigError(`${what}: not a SentencePiece model (no pieces)`);
  return model;
}

/** Merges as SentencePieceExtractor + generate_merges make them: each piece's two-piece splits, by (merged id, left length). */
function mergesOf(pieces: readonly SentencePiece[], ids: Map<string, number>): Array<[string, string]> {
  const merges: Array<{ left: string; right: string; id: number; leftLength: number }> = [];
  pieces.forEach(({ piece }, id) => {
    const chars = [...piece]; // Python slices code points
    for (let i = 1; i < chars.length; i++) {
      const left = chars.slice(0, i).join('');
      const right = chars.slice(i).join('');
      if (ids.has(left) && ids.has(right)) merges.push({ left, right, id, leftLength: i });
    }
  });
  merges.sort((a, b) => a.id - b.id || a.leftLength - b.leftLength);
  return merges.map((m) => [m.left, m.right]);
}

/** transformers 4.37's LlamaConverter.normalizer. */
const PREPEND_NORMALIZER = {
  type: 'Sequence',
  normalizers: [
    { type: 'Prepend', prepend: '▁' },
    { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
  ],
};


/** The tokenizer.json transformers makes of a tokenizer.model with this tokenizer_config.json (see the file's comment). */
export function tokenizerJsonFromSentencePiece(model: SentencePieceModel, config: Json, what = 'tokenizer.model', { prependNormalizer = false } = {}): Json {
  if (model.modelType !== 'bpe') throw new ConfigError(`${what}: a SentencePiece ${model.modelType} model; only BPE models (Llama's, Vicuna's, Phi-3's) are supported`);
  const ids = new Map<string, number>();
  model.pieces.forEach((p, i) => ids.set(p.piece, i)); // a repeated piece keeps its last id, as the Python dict does
  const legacy = config.legacy === true; // LlamaTokenizer's default in transformers 5.x is false
  const addPrefixSpace = config.add_prefix_space !== false;
  const special = (id: number, content: string, isSpecial: boolean) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: isSpecial });

  // added tokens: the checkpoint's added_tokens_decoder, then the control / user-defined pieces, then the named special tokens
  const added = new Map<string, Json>();
  const decoder = config.added_tokens_decoder;
  if (decoder && typeof decoder === 'object' && !Array.isArray(decoder)) {
    for (const [id, t] of Object.entries(decoder as Record<string, Json>)) {
      const content = tokenString(t);
      if (content !== null) added.set(content, { ...special(Number(id), content, t.special !== false), lstrip: t.lstrip === true, rstrip: t.rstrip === true, single_word: t.single_word === true, normalized: t.normalized === true });
    }
  }
  model.pieces.forEach((p, id) => {
    if ((p.type === PIECE_TYPE.control || p.type === PIECE_TYPE.userDefined) && !added.has(p.piece)) added.set(p.piece, special(id, p.piece, p.type === PIECE_TYPE.control));
  });
  for (const key of ['unk_token', 'bos_token', 'eos_token', 'pad_token']) {
    const content = tokenString(config[key]);
    const id = content === null ? undefined : ids.get(content);
    if (content !== null && id !== undefined && !added.has(content)) added.set(content, special(id, content, true));
  }

  const bos = tokenString(config.bos_token) ?? '<s>';
  const eos = tokenString(config.eos_token) ?? '</s>';
  const addBos = config.add_bos_token !== false;
  const addEos = config.add_eos_token === true;
  const seq = (id: 'A' | 'B', type: number) => ({ Sequence: { id, type_id: type } });
  const tok = (content: string, type: number) => ({ SpecialToken: { id: content, type_id: type } });
  const single = [...(addBos ? [tok(bos, 0)] : []), seq('A', 0), ...(addEos ? [tok(eos, 0)] : [])];
  const pair = [...single, ...(addBos ? [tok(bos, 1)] : []), seq('B', 1), ...(addEos ? [tok(eos, 1)] : [])];
  const specialTokens: Json = {};
  for (const [use, content] of [[addBos, bos], [addEos, eos]] as const) {
    const id = ids.get(content);
    if (use && id === undefined) throw new ConfigError(`${what}: tokenizer_config.json's ${content === bos ? 'bos' : 'eos'}_token "${content}" is not a piece of the model`);
    if (use) specialTokens[content] = { id: content, ids: [id!], tokens: [content] };
  }

  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...added.values()].sort((a, b) => (a.id as number) - (b.id as number)),
    normalizer: prependNormalizer ? PREPEND_NORMALIZER : null,
    pre_tokenizer: prependNormalizer ? null : { type: 'Metaspace', replacement: '▁', prepend_scheme: addPrefixSpace ? (legacy ? 'always' : 'first') : 'never', split: false },
    post_processor: { type: 'TemplateProcessing', single, pair, special_tokens: specialTokens },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(addPrefixSpace || prependNormalizer ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(ids),
      merges: mergesOf(model.pieces, ids),
    },
  } as unknown as Json;
}
