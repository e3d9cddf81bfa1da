/**
 * Property-based and mutation tests over every parser that reads untrusted bytes or JSON: safetensors headers
 * and offsets, the sharded index, config JSON, BMP, LAB and 12-bit TIFF, the image entry point, chat templates with hostile text.
 * Each input must give a result or a VipLlavaError with a one-line message, never another exception, a hang,
 * or buffers beyond a small multiple of the input. Seeded and bounded in count, so CI runs the same cases.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MemorySource, VipLlavaConfig, VipLlavaError, VipLlavaProcessor, loadImage, type ByteSource, type CheckpointFiles } from '../../src/index.node.js';
import { parseGenerationConfig } from '../../src/config/generation_config.js';
import { parseImageProcessorConfig } from '../../src/config/preprocessor_config.js';
import { SafetensorsFile } from '../../src/weights/safetensors.js';
import { weightFiles } from '../../src/weights/load.js';
import { join } from 'node:path';
import { FIXTURES, TINY_LLAMA } from '../helpers/fixtures.js';
import { image } from '../helpers/processor_goldens.js';
import { encodeSafetensors, f32Tensor } from '../helpers/safetensors_writer.js';

const SEED = Number(process.env.VIPLLAVA_FUZZ_SEED ?? 20261202); // VIPLLAVA_FUZZ_SEED and _RUNS explore further locally
const RUNS = Number(process.env.VIPLLAVA_FUZZ_RUNS ?? 300);
const params = (numRuns = RUNS) => ({ seed: SEED, numRuns });

/** Runs `f`; it may succeed or throw a VipLlavaError with a one-line message; it may not allocate much more than `budget` bytes. */
async function wellBehaved(f: () => unknown, budget: number): Promise<void> {
  const before = process.memoryUsage().arrayBuffers;
  try {
    await f();
  } catch (e) {
    if (!(e instanceof VipLlavaError)) throw new Error(`not a VipLlavaError: ${(e as Error).stack ?? String(e)}`);
    assert.ok(e.message.length > 0 && !e.message.includes('\n'), `message ${JSON.stringify(e.message)}`);
  }
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.ok(grown < budget + (32 << 20), `${grown} bytes of buffers for an input of ${budget}`);
}

/** Byte-level mutations of a valid file: flips, overwrites with boundary values, cuts and insertions. */
const mutated = (base: Uint8Array) =>
  fc
    .array(
      fc.oneof(
        fc.record({ kind: fc.constant('set' as const), at: fc.nat(base.length - 1), value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x30, 0x39, 0x2d, 0x5b, 0x22) }),
        fc.record({ kind: fc.constant('cut' as const), at: fc.nat(base.length) }),
        fc.record({ kind: fc.constant('u32' as const), at: fc.nat(Math.max(0, base.length - 4)), value: fc.constantFrom(0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 305_000_000, 65537) }),
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((edits) => {
      let out = base.slice();
      for (const e of edits) {
        if (e.kind === 'set') out[e.at % out.length] = e.value;
        else if (e.kind === 'cut') out = out.slice(0, Math.min(e.at, out.length));
        else if (out.length >= 4) new DataView(out.buffer).setUint32(Math.min(e.at, out.length - 4), e.value, true);
      }
      return out;
    });

describe('fuzzing the parsers of untrusted input', () => {
  test('safetensors: random headers (dtypes, shapes, offsets) and mutated files', async () => {
    const valid = new Uint8Array(encodeSafetensors({ a: f32Tensor([2, 3], [1, 2, 3, 4, 5, 6]), b: f32Tensor([4], [7, 8, 9, 10]) }));
    const open = async (bytes: Uint8Array) => {
      const f = await SafetensorsFile.open(new MemorySource(bytes, 'fuzz.safetensors'));
      for (const name of f.entries.keys()) await f.read(name);
    };
    await fc.assert(fc.asyncProperty(mutated(valid), (bytes) => wellBehaved(() => open(bytes), bytes.length)), params());
    const dims = fc.array(fc.oneof(fc.integer({ min: -2, max: 8 }), fc.constantFrom(2 ** 31, 2 ** 53, 1e300, 0.5)), { maxLength: 4 });
    const entry = fc.record({ dtype: fc.oneof(fc.constantFrom('F32', 'F16', 'BF16', 'I64', 'U8', 'F8_E4M3'), fc.string()), shape: dims, data_offsets: fc.array(fc.oneof(fc.nat(64), fc.constantFrom(-1, 2 ** 60)), { maxLength: 3 }) });
    const header = fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(entry, fc.anything()), { maxKeys: 4 });
    await fc.assert(
      fc.asyncProperty(header, fc.nat(64), async (h, extra) => {
        const json = new TextEncoder().encode(JSON.stringify(h));
        const bytes = new Uint8Array(8 + json.length + extra);
        new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
        bytes.set(json, 8);
        await wellBehaved(() => open(bytes), bytes.length);
      }),
      params(),
    );
  });

  test('the sharded index: any JSON as model.safetensors.index.json', async () => {
    const files = (index: string): CheckpointFiles => {
      const get = async (name: string): Promise<ByteSource | null> => (name === 'model.safetensors.index.json' ? new MemorySource(new TextEncoder().encode(index), name) : null);
      return { description: 'fuzz', directory: null, optionalFile: get, file: async (name) => (await get(name)) ?? Promise.reject(new VipLlavaError(`${name} not found`)) };
    };
    const index = fc.oneof(fc.json(), fc.record({ weight_map: fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.constant('../../etc/passwd'), fc.anything())) }).map((o) => JSON.stringify(o)), fc.string());
    await fc.assert(fc.asyncProperty(index, (text) => wellBehaved(() => weightFiles(files(text)), text.length)), params());
  });

  test('configs: mutated config.json, generation_config.json and preprocessor_config.json', async () => {
    const real = (file: string) => JSON.parse(readFileSync(`${TINY_LLAMA}/${file}`, 'utf8')) as Record<string, unknown>;
    const anyValue = fc.oneof(fc.anything(), fc.constantFrom(-1, 0, 1e308, -1e308, 0.5, NaN, '', 'gelu', [], [-2, 99], { rope_type: 'yarn' }, null));
    const mutate = (base: Record<string, unknown>) =>
      fc.array(fc.tuple(fc.constantFrom(...Object.keys(base), 'text_config', 'vision_config', 'rope_scaling', 'vision_feature_layers'), anyValue), { maxLength: 4 }).map((edits) => {
        const out: Record<string, unknown> = structuredClone(base);
        for (const [k, v] of edits) {
          const nested = out[k === 'rope_scaling' ? 'text_config' : ''] as Record<string, unknown> | undefined;
          if (nested && typeof nested === 'object') nested[k] = v;
          else out[k] = v;
        }
        return out;
      });
    const config = real('config.json');
    const nestedEdits = fc.tuple(fc.constantFrom('text_config', 'vision_config'), fc.constantFrom('hidden_size', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'image_size', 'patch_size', 'hidden_act', 'rope_scaling', 'sliding_window', 'max_position_embeddings'), anyValue);
    await fc.assert(
      fc.asyncProperty(mutate(config), fc.array(nestedEdits, { maxLength: 3 }), async (c, edits) => {
        for (const [part, key, v] of edits) if (typeof c[part] === 'object' && c[part] !== null) (c[part] as Record<string, unknown>)[key] = v;
        await wellBehaved(() => VipLlavaConfig.fromDict(c), 0);
      }),
      params(),
    );
    await fc.assert(fc.asyncProperty(mutate(real('generation_config.json')), (g) => wellBehaved(() => parseGenerationConfig(g), 0)), params());
    await fc.assert(fc.asyncProperty(mutate(real('preprocessor_config.json')), (p) => wellBehaved(() => parseImageProcessorConfig(p, 'fuzz'), 0)), params());
    await fc.assert(fc.asyncProperty(fc.anything(), (v) => wellBehaved(() => VipLlavaConfig.fromDict(v), 0)), params());
  });

  test('BMP: mutated headers, palettes and pixel data', async () => {
    const odd = (name: string) => new Uint8Array(readFileSync(join(FIXTURES, 'images', 'odd', name)));
    const bases = [new Uint8Array(readFileSync(image('image.bmp'))), odd('rle8.bmp'), odd('rle4.bmp'), odd('os2_4bit.bmp'), odd('rgb565.bmp')];
    const header = (b: Uint8Array) =>
      fc.array(fc.tuple(fc.constantFrom(2, 10, 14, 18, 22, 26, 28, 30, 34, 46, 54, 58), fc.constantFrom(0, 1, 3, 4, 8, 12, 16, 24, 32, 40, 64, 0xffff, 0x7fffffff, 0xffffffff, 305_000_000)), { minLength: 1, maxLength: 4 }).map((edits) => {
        const out = b.slice();
        const v = new DataView(out.buffer);
        for (const [at, value] of edits) at === 28 ? v.setUint16(at, value & 0xffff, true) : v.setUint32(at, value >>> 0, true);
        return out;
      });
    for (const bmp of bases) {
      await fc.assert(fc.asyncProperty(fc.oneof(header(bmp), mutated(bmp)), (bytes) => wellBehaved(() => loadImage(bytes, { maxPixels: 4_000_000 }), 3 * 4_000_000)), params(100));
    }
  });

  test('LAB and 12-bit TIFF: mutated directories, strips and compressed data', async () => {
    const odd = (name: string) => new Uint8Array(readFileSync(join(FIXTURES, 'images', 'odd', name)));
    const bases = ['lab.tiff', 'lab_lzw.tiff', 'lab_packbits.tiff', 'lab_predictor.tiff', 'grey12.tiff', 'grey12_deflate.tiff'].map(odd);
    for (const tiff of bases) {
      await fc.assert(fc.asyncProperty(mutated(tiff), (bytes) => wellBehaved(() => loadImage(bytes, { maxPixels: 4_000_000 }), 3 * 4_000_000)), params(100));
    }
  });

  test('the image entry point: any value', async () => {
    const raw = fc.record({ width: fc.oneof(fc.integer({ min: -2, max: 6 }), fc.constantFrom(0.5, NaN, 1e9)), height: fc.integer({ min: -2, max: 6 }), data: fc.uint8Array({ maxLength: 200 }), channels: fc.oneof(fc.constantFrom(1, 2, 3, 4, 5, 0, -1), fc.constant(undefined)) });
    await fc.assert(fc.asyncProperty(fc.oneof(fc.anything(), raw, fc.uint8Array({ maxLength: 64 })), (v) => wellBehaved(() => loadImage(v as never, { maxPixels: 10_000 }), 30_000)), params());
  });

  test('chat templates: hostile message text renders verbatim; hostile template source is an InputError', async () => {
    const processor = await VipLlavaProcessor.fromPretrained(TINY_LLAMA);
    const hostile = fc.oneof(fc.string(), fc.constantFrom('{{ 7*7 }}', '{% for x in range(10**9) %}', '<image>', '</s>', '###Assistant:', '\u0000', '\ud800', '{{', '%}'));
    await fc.assert(
      fc.asyncProperty(hostile, (text) => {
        const out = processor.applyChatTemplate([{ role: 'user', content: [{ type: 'text', text }] }], { addGenerationPrompt: true });
        assert.ok(out.includes(text), 'the text is data, never template');
      }),
      params(),
    );
    const source = fc.oneof(fc.string().map((s) => `{{ ${s} }}`), fc.string().map((s) => `{% ${s} %}`), fc.constantFrom('{% for m in messages %}{{ m.nope.deeper }}{% endfor %}', '{{ raise_exception("no") }}', '{% if %}'));
    await fc.assert(fc.asyncProperty(source, (t) => wellBehaved(() => processor.applyChatTemplate([{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], { template: t }), 0)), params());
  });
});
