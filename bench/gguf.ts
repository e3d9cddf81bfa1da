/**
 * Writes the language model of the bench's random VipLlava-7B checkpoint as a llama.cpp GGUF (version 3, F16
 * weights, F32 norms), so that llama-bench runs the same shapes and values beside our engine. Only what
 * llama-bench needs is written: the llama hyper-parameters, the Llama-2 vocabulary (from the shipped model's
 * tokenizer.json, padded to the config's vocab size) and the tensors under llama.cpp's names. q_proj/k_proj are
 * not permuted into llama.cpp's rotary layout: the cost is the same and the values are random anyway.
 */
import { closeSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile } from '../src/weights/safetensors.js';
import { FileSource } from '../src/io/file_source.node.js';

const ALIGN = 32;
const enum Kind {
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  STRING = 8,
  ARRAY = 9,
}
const GGML_F32 = 0;
const GGML_F16 = 1;
const TOKEN_NORMAL = 1;
const TOKEN_CONTROL = 3;

/** Little-endian byte writer for the header. */
class Bytes {
  private parts: Buffer[] = [];
  length = 0;
  private push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  private num(size: number, write: (b: Buffer) => void): void {
    const b = Buffer.alloc(size);
    write(b);
    this.push(b);
  }
  u32 = (v: number) => this.num(4, (b) => b.writeUInt32LE(v));
  i32 = (v: number) => this.num(4, (b) => b.writeInt32LE(v));
  u64 = (v: number) => this.num(8, (b) => b.writeBigUInt64LE(BigInt(v)));
  f32 = (v: number) => this.num(4, (b) => b.writeFloatLE(v));
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  pad(): void {
    this.push(Buffer.alloc((ALIGN - (this.length % ALIGN)) % ALIGN));
  }
  buffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

type Value = { kind: Kind.UINT32 | Kind.INT32 | Kind.FLOAT32 | Kind.STRING; v: number | string } | { kind: Kind.ARRAY; of: Kind; items: Array<number | string> };

function writeValue(out: Bytes, kind: Kind, v: number | string): void {
  if (kind === Kind.UINT32) out.u32(v as number);
  else if (kind === Kind.INT32) out.i32(v as number);
  else if (kind === Kind.FLOAT32) out.f32(v as number);
  else out.str(v as string);
}

/** Hub tensor names → llama.cpp's, for `layers` decoder layers. */
function tensorNames(layers: number): Array<[string, string]> {
  const lm = 'model.language_model.';
  const pairs: Array<[string, string]> = [[`${lm}embed_tokens.weight`, 'token_embd.weight'], [`${lm}norm.weight`, 'output_norm.weight'], ['lm_head.weight', 'output.weight']];
  const parts: Array<[string, string]> = [
    ['input_layernorm', 'attn_norm'], ['self_attn.q_proj', 'attn_q'], ['self_attn.k_proj', 'attn_k'], ['self_attn.v_proj', 'attn_v'],
    ['self_attn.o_proj', 'attn_output'], ['post_attention_layernorm', 'ffn_norm'], ['mlp.gate_proj', 'ffn_gate'], ['mlp.up_proj', 'ffn_up'],
    ['mlp.down_proj', 'ffn_down'],
  ];
  for (let i = 0; i < layers; i++) for (const [hf, gg] of parts) pairs.push([`${lm}layers.${i}.${hf}.weight`, `blk.${i}.${gg}.weight`]);
  return pairs;
}

/** The Llama-2 vocabulary of a tokenizer.json by id, padded with placeholder pieces to `size`. */
function vocabulary(tokenizerJson: string, size: number): string[] {
  const t = JSON.parse(readFileSync(tokenizerJson, 'utf8')) as { model: { vocab: Record<string, number> }; added_tokens?: Array<{ id: number; content: string }> };
  const tokens: string[] = [];
  for (const [piece, id] of Object.entries(t.model.vocab)) tokens[id] = piece;
  for (const a of t.added_tokens ?? []) tokens[a.id] ??= a.content;
  for (let i = 0; i < size; i++) tokens[i] ??= `[PAD${i}]`;
  return tokens.slice(0, size);
}

export interface LlamaShape {
  layers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  rmsEps: number;
  contextLength: number;
}

/** Writes `out` (through a .partial file) from the sharded checkpoint in `dir`. */
export async function writeLlamaGguf(dir: string, out: string, tokenizerJson: string, s: LlamaShape): Promise<void> {
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
  const files = new Map<string, SafetensorsFile>();
  const file = async (name: string) => {
    const f = index.weight_map[name];
    if (!f) throw new Error(`${name} is not in ${dir}'s index`);
    if (!files.has(f)) files.set(f, await SafetensorsFile.open(new FileSource(join(dir, f))));
    return files.get(f)!;
  };
  const tokens = vocabulary(tokenizerJson, s.vocab);
  const kv: Array<[string, Value]> = [
    ['general.architecture', { kind: Kind.STRING, v: 'llama' }],
    ['general.name', { kind: Kind.STRING, v: 'vipllava-7b-random language model' }],
    ['general.file_type', { kind: Kind.UINT32, v: 1 }], // mostly F16
    ['llama.context_length', { kind: Kind.UINT32, v: s.contextLength }],
    ['llama.embedding_length', { kind: Kind.UINT32, v: s.hidden }],
    ['llama.block_count', { kind: Kind.UINT32, v: s.layers }],
    ['llama.feed_forward_length', { kind: Kind.UINT32, v: s.intermediate }],
    ['llama.rope.dimension_count', { kind: Kind.UINT32, v: s.hidden / s.heads }],
    ['llama.attention.head_count', { kind: Kind.UINT32, v: s.heads }],
    ['llama.attention.head_count_kv', { kind: Kind.UINT32, v: s.kvHeads }],
    ['llama.attention.layer_norm_rms_epsilon', { kind: Kind.FLOAT32, v: s.rmsEps }],
    ['tokenizer.ggml.model', { kind: Kind.STRING, v: 'llama' }],
    ['tokenizer.ggml.tokens', { kind: Kind.ARRAY, of: Kind.STRING, items: tokens }],
    ['tokenizer.ggml.scores', { kind: Kind.ARRAY, of: Kind.FLOAT32, items: tokens.map(() => 0) }],
    ['tokenizer.ggml.token_type', { kind: Kind.ARRAY, of: Kind.INT32, items: tokens.map((_, i) => (i < 3 ? TOKEN_CONTROL : TOKEN_NORMAL)) }],
    ['tokenizer.ggml.unknown_token_id', { kind: Kind.UINT32, v: 0 }],
    ['tokenizer.ggml.bos_token_id', { kind: Kind.UINT32, v: 1 }],
    ['tokenizer.ggml.eos_token_id', { kind: Kind.UINT32, v: 2 }],
  ];
  const tensors = tensorNames(s.layers);
  const infos: Array<{ hf: string; gg: string; shape: readonly number[]; f32: boolean; bytes: number; offset: number }> = [];
  let offset = 0;
  for (const [hf, gg] of tensors) {
    const shape = (await file(hf)).entries.get(hf)!.shape;
    const f32 = gg.endsWith('norm.weight');
    const bytes = shape.reduce((a, b) => a * b, 1) * (f32 ? 4 : 2);
    infos.push({ hf, gg, shape, f32, bytes, offset });
    offset += Math.ceil(bytes / ALIGN) * ALIGN;
  }

  const h = new Bytes();
  h.u32(0x46554747); // "GGUF"
  h.u32(3);
  h.u64(infos.length);
  h.u64(kv.length);
  for (const [key, value] of kv) {
    h.str(key);
    h.u32(value.kind);
    if (value.kind === Kind.ARRAY) {
      h.u32(value.of);
      h.u64(value.items.length);
      for (const item of value.items) writeValue(h, value.of, item);
    } else {
      writeValue(h, value.kind, value.v);
    }
  }
  for (const t of infos) {
    h.str(t.gg);
    h.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) h.u64(d); // ggml's ne[0] is the fastest-varying dim
    h.u32(t.f32 ? GGML_F32 : GGML_F16);
    h.u64(t.offset);
  }
  h.pad();

  const fd = openSync(`${out}.partial`, 'w');
  try {
    writeSync(fd, h.buffer());
    for (const t of infos) {
      const f = await file(t.hf);
      const wide = t.f32 ? (await f.read(t.hf)).toFloat32() : null;
      const data = wide ? new Uint8Array(wide.buffer, wide.byteOffset, wide.byteLength) : await f.readBytes(t.hf);
      writeSync(fd, data);
      writeSync(fd, Buffer.alloc((ALIGN - (t.bytes % ALIGN)) % ALIGN));
    }
  } finally {
    closeSync(fd);
    for (const f of files.values()) await f.close();
  }
  renameSync(`${out}.partial`, out);
}
