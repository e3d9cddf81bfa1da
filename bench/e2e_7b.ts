/**
 * VipLlava-7B end to end on the native engine, per weight format: vision encode, prefill of a 626-token
 * prompt, decode at batch 1 and 4, time to first token (one image + 50 text tokens), peak RSS, and the
 * fraction of this machine's limits reached (measured in the same process: FMA / bf16 / int8 peaks, read
 * bandwidth). The first run writes a checkpoint with VipLlava-7B shapes and random fp16 weights in the hub
 * layout (sharded safetensors + index, ~14 GB) to $VIPLLAVA_BENCH_DIR or ~/.cache/vipllava/bench; it is never
 * committed. Each format runs in its own process so peak RSS is its own. When a llama-bench binary is on the
 * PATH (or given by --llama-bench), llama.cpp runs the same language model right after each format, in the same
 * window, for a ratio: the GGUFs are written once next to the checkpoint (F16 by bench/gguf.ts; BF16, Q8_0 and
 * Q4_0 by llama-quantize when it is beside llama-bench or on the PATH), or given by --llama-models
 * auto=f16.gguf,bfloat16=bf16.gguf,q8_0=q8.gguf,q4_0=q4.gguf.
 *
 * With --torch-python (a Python that has torch and transformers), PyTorch's fp32 vision pass on the same
 * checkpoint (tools/bench_torch_vision.py) runs right after the first format, for the vision ratio.
 *
 *   npm run bench [-- --formats auto,bfloat16,q8_0,q4_0] [-- --threads 2] [-- --runs 3] [-- --kv-cache float16]
 *                 [-- --torch-python /path/to/venv/bin/python] [-- --write-checkpoint]
 *
 * --write-checkpoint only writes the checkpoint (where --dir or $VIPLLAVA_BENCH_DIR says) and stops: the model
 * that `npm run bench:webgpu -- --shapes 7b --model DIR` and tools/bench_torch_gpu.py load.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { NativeBackend } from '../src/backend/cpu/native_backend.node.js';
import type { KVDtype } from '../src/vocabulary.js';
import { VipLlavaConfig } from '../src/config/vipllava_config.js';
import { VipLlavaForConditionalGeneration } from '../src/index.node.js';
import { Tensor } from '../src/tensor/tensor.js';
import { float32ToHalf } from '../src/tensor/float16.js';
import type { WeightDtype } from '../src/vocabulary.js';
import { limitsLine, machine, peakFor, time, type Limits } from './report.js';
import { writeLlamaGguf } from './gguf.js';
import { DEFAULT_MODEL } from '../src/package_paths.node.js';

const { values } = parseArgs({
  options: {
    formats: { type: 'string', default: 'auto,bfloat16,q8_0,q4_0' },
    threads: { type: 'string' },
    'kv-cache': { type: 'string', default: 'float32' },
    runs: { type: 'string', default: '3' },
    dir: { type: 'string' },
    child: { type: 'string' },
    'llama-bench': { type: 'string' },
    'llama-models': { type: 'string' },
    'torch-python': { type: 'string' },
    'write-checkpoint': { type: 'boolean', default: false },
  },
});
const DIR = values.dir ?? process.env.VIPLLAVA_BENCH_DIR ?? join(homedir(), '.cache', 'vipllava', 'bench', 'vip-llava-7b-random');
const RUNS = Number(values.runs);
const PROMPT = 626;
const IMAGE_TOKENS = 576;

// The hub's llava-hf/vip-llava-7b-hf config: only what differs from the class defaults.
const CONFIG = {
  architectures: ['VipLlavaForConditionalGeneration'],
  model_type: 'vipllava',
  image_token_index: 32000,
  pad_token_id: 32001,
  projector_hidden_act: 'gelu',
  projector_layernorm_eps: 1e-5,
  text_config: { architectures: ['LlamaForCausalLM'], max_position_embeddings: 4096, model_type: 'llama', rms_norm_eps: 1e-5, torch_dtype: 'float16', vocab_size: 32064 },
  torch_dtype: 'float16',
  vision_config: { hidden_size: 1024, image_size: 336, intermediate_size: 4096, model_type: 'clip_vision_model', num_attention_heads: 16, num_hidden_layers: 24, patch_size: 14, projection_dim: 768, vocab_size: 32000 },
  vision_feature_layers: [-2, -5, -8, -11, 6],
  vocab_size: 32064,
};

/** Writes the random checkpoint: fp16 shards of ≤ 2 GB, norm weights near 1, everything else small. */
function writeCheckpoint(): void {
  mkdirSync(DIR, { recursive: true });
  const shapes = [...VipLlavaForConditionalGeneration.parameterShapes(VipLlavaConfig.fromDict(CONFIG))];
  let seed = 0x9e3779b9;
  const next = () => ((seed ^= seed << 13), (seed ^= seed >>> 17), (seed ^= seed << 5), (seed >>> 0) / 2 ** 32);
  const small = Uint16Array.from({ length: 1 << 24 }, () => float32ToHalf((next() - 0.5) * 0.04));
  const ones = Uint16Array.from({ length: 1 << 16 }, () => float32ToHalf(0.5 + next()));
  const shards: Array<Array<[string, number[]]>> = [[]];
  let bytes = 0;
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1) * 2;
    if (bytes + n > 2e9 && shards.at(-1)!.length > 0) {
      shards.push([]);
      bytes = 0;
    }
    shards.at(-1)!.push([name, [...shape]]);
    bytes += n;
  }
  const weightMap: Record<string, string> = {};
  let offset = 0;
  shards.forEach((tensors, s) => {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    const header: Record<string, unknown> = {};
    let at = 0;
    for (const [name, shape] of tensors) {
      const n = shape.reduce((a, b) => a * b, 1) * 2;
      header[name] = { dtype: 'F16', shape, data_offsets: [at, at + n] };
      at += n;
      weightMap[name] = file;
    }
    let json = Buffer.from(JSON.stringify(header));
    json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
    const fd = openSync(join(DIR, `${file}.partial`), 'w');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, json);
    for (const [name, shape] of tensors) {
      const count = shape.reduce((a, b) => a * b, 1);
      const norm = shape.length === 1 && /norm|layrnorm/.test(name) && name.endsWith('.weight');
      const src = norm ? ones : small;
      for (let done = 0; done < count; ) {
        const start = (offset = (offset + 7919) % (src.length / 2));
        const n = Math.min(count - done, src.length - start);
        writeSync(fd, new Uint8Array(src.buffer, start * 2, n * 2));
        done += n;
      }
    }
    closeSync(fd);
    renameSync(join(DIR, `${file}.partial`), join(DIR, file));
    process.stderr.write(`  wrote ${file}\n`);
  });
  writeFileSync(join(DIR, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  writeFileSync(join(DIR, 'config.json'), JSON.stringify(CONFIG, null, 2));
}

interface Result {
  format: string;
  limits: Limits;
  loadS: number;
  visionS: number;
  prefillS: number;
  prefillFlop: number;
  decode1: number;
  decode4: number;
  ttftS: number;
  weightBytes: number;
  peakRssGB: number;
  isa: string;
  instructions: string;
  threads: number;
  visionFlop: number;
}

/** One format, in this process. */
async function child(format: WeightDtype): Promise<Result> {
  const backend = new NativeBackend({ threads: values.threads ? Number(values.threads) : undefined });
  const limits = await backend.limits(0.5);
  const t0 = Date.now();
  const model = await VipLlavaForConditionalGeneration.fromPretrained(DIR, { backend, dtype: format, kvCacheDtype: values['kv-cache'] as KVDtype });
  const loadS = (Date.now() - t0) / 1000;
  const pixels = new Tensor('float32', Float32Array.from({ length: 3 * 336 * 336 }, (_, i) => Math.sin(i) * 0.5), [1, 3, 336, 336]);
  const vision = await time(async () => backend.read(model.imageFeatures(pixels)), { warmup: 1, runs: RUNS });
  const ids = (n: number, first = 0) => Array.from({ length: n }, (_, i) => 1000 + ((i * 7919 + first) % 30000));
  await model.forward({ inputIds: [ids(32)], logitsToKeep: 1 });
  const prefill = await time(() => model.forward({ inputIds: [ids(PROMPT)], logitsToKeep: 1 }), { warmup: 0, runs: Math.max(1, RUNS - 1) });
  const decode = async (batch: number) => {
    const stamps: number[] = [];
    const inputIds = Array.from({ length: batch }, (_, b) => ids(16, b));
    for await (const e of model.generateStream({ inputIds, maxNewTokens: 12, minNewTokens: 12, doSample: false })) {
      if (e.row === 0) stamps.push(performance.now());
    }
    const gaps = stamps.slice(2).map((s, i) => s - stamps[i + 1]).sort((a, b) => a - b);
    return (1000 * batch) / gaps[Math.floor(gaps.length / 2)];
  };
  const decode1 = await decode(1);
  const decode4 = await decode(4);
  const prompt = [1, ...new Array(IMAGE_TOKENS).fill(32000), ...ids(PROMPT - IMAGE_TOKENS - 1)];
  const start = performance.now();
  let ttftS = 0;
  for await (const e of model.generateStream({ inputIds: [prompt], pixelValues: pixels, maxNewTokens: 1, doSample: false })) {
    if (!ttftS) ttftS = (performance.now() - start) / 1000;
    void e;
  }
  const weightBytes = estimateDecodeBytes(model, format);
  const prefillFlop = 2 * decoderLinearParams(model) * PROMPT; // the GEMMs the peak is for (lm_head runs for one row)
  return {
    format, limits, loadS, prefillFlop, visionS: vision.median, prefillS: prefill.median, decode1, decode4, ttftS, weightBytes,
    peakRssGB: process.resourceUsage().maxRSS / 2 ** 20, isa: backend.info().isa, instructions: backend.info().instructions, threads: backend.info().threads,
    visionFlop: visionFlop(model),
  };
}

/** Multiply-adds ×2 of the vision pass: CLIP up to the deepest feature layer (linear layers and attention) and the projector. */
function visionFlop(model: VipLlavaForConditionalGeneration): number {
  const v = model.config.vision_config;
  const tokens = (v.image_size / v.patch_size) ** 2 + 1;
  const layers = Math.max(...[model.config.vision_feature_layers].flat().map((l) => (l < 0 ? v.num_hidden_layers + 1 + l : l)));
  const h = v.hidden_size;
  const perLayer = tokens * (4 * h * h + 2 * h * v.intermediate_size) + 2 * tokens * tokens * h;
  const projector = (tokens - 1) * model.config.projectorInputSize * model.config.text_config.hidden_size + (tokens - 1) * model.config.text_config.hidden_size ** 2;
  return 2 * (layers * perLayer + projector + (tokens - 1) * 3 * v.patch_size ** 2 * h);
}

/** Weights of the decoder layers' linear layers (q, k, v, o, gate, up, down). */
function decoderLinearParams(model: VipLlavaForConditionalGeneration): number {
  const t = model.config.text_config;
  return t.num_hidden_layers * (4 * t.hidden_size * t.hidden_size + 3 * t.hidden_size * t.intermediate_size);
}

/** Bytes a decode step reads: the language model's linear weights and lm_head in their runtime format. */
function estimateDecodeBytes(model: VipLlavaForConditionalGeneration, format: WeightDtype): number {
  const t = model.config.text_config;
  const params = decoderLinearParams(model) + t.vocab_size * t.hidden_size;
  const bytesPer = format === 'q8_0' ? 34 / 32 : format === 'q4_0' ? 18 / 32 : format === 'float32' ? 4 : 2;
  return params * bytesPer;
}

/** A llama.cpp tool: the --llama-bench binary's neighbour, else on the PATH; null if neither. */
function llamaTool(name: string): string | null {
  if (values['llama-bench']) {
    const near = join(dirname(values['llama-bench']), name);
    if (existsSync(near)) return near;
  }
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim() || null;
}

/**
 * GGUFs of the checkpoint's language model per format, for llama-bench: those given by --llama-models, else
 * made once in $DIR/gguf (F16 written here, the others by llama-quantize when it is there; ~38 GB in all).
 */
async function llamaModels(formats: string[]): Promise<Map<string, string>> {
  const given = new Map((values['llama-models'] ?? '').split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
  if (given.size > 0 || !llamaTool('llama-bench')) return given;
  const out = new Map<string, string>();
  mkdirSync(join(DIR, 'gguf'), { recursive: true });
  const f16 = join(DIR, 'gguf', 'f16.gguf');
  if (!existsSync(f16)) {
    console.log(`writing ${f16} for llama-bench ...`);
    const t = VipLlavaConfig.fromDict(CONFIG).text_config;
    await writeLlamaGguf(DIR, f16, join(DEFAULT_MODEL, 'tokenizer.json'), {
      layers: t.num_hidden_layers, hidden: t.hidden_size, intermediate: t.intermediate_size, heads: t.num_attention_heads,
      kvHeads: t.num_key_value_heads, vocab: t.vocab_size, rmsEps: t.rms_norm_eps, contextLength: t.max_position_embeddings,
    });
  }
  const quantize = llamaTool('llama-quantize');
  for (const format of formats) {
    const type = { auto: 'F16', float16: 'F16', bfloat16: 'BF16', q8_0: 'Q8_0', q4_0: 'Q4_0' }[format];
    if (type === 'F16') out.set(format, f16);
    if (!type || type === 'F16' || !quantize) continue;
    const file = join(DIR, 'gguf', `${type.toLowerCase()}.gguf`);
    if (!existsSync(file)) {
      console.log(`llama-quantize ${type} → ${file} ...`);
      execFileSync(quantize, [f16, `${file}.partial`, type], { stdio: 'ignore' });
      renameSync(`${file}.partial`, file);
    }
    out.set(format, file);
  }
  return out;
}

/** llama-bench on `model` with our threads and prompt: [prefill tok/s, decode tok/s], or null without a binary. */
function llamaBench(model: string, threads: number): [number, number] | null {
  const bin = llamaTool('llama-bench');
  if (!bin) return null;
  const out = execFileSync(bin, ['-m', model, '-t', String(threads), '-p', String(PROMPT), '-n', '32', '-r', '2', '-o', 'json'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const rows = JSON.parse(out) as Array<{ n_prompt: number; n_gen: number; avg_ts: number }>;
  return [rows.find((r) => r.n_prompt > 0)!.avg_ts, rows.find((r) => r.n_gen > 0)!.avg_ts];
}

/** PyTorch + transformers' fp32 vision pass on the checkpoint (median of our run count after a warm-up). */
function torchVision(python: string, threads: number): { seconds: number; version: string; threads: number } {
  const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tools', 'bench_torch_vision.py');
  const out = execFileSync(python, [script, DIR, '--threads', String(threads), '--runs', String(RUNS)], { encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as { fp32_s: number; torch: string; threads: number };
  return { seconds: r.fp32_s, version: r.torch, threads: r.threads };
}

async function main() {
  if (values.child) {
    console.log(JSON.stringify(await child(values.child as WeightDtype)));
    return;
  }
  console.log(`machine: ${machine()}`);
  if (!existsSync(join(DIR, 'model.safetensors.index.json'))) {
    console.log(`writing a random VipLlava-7B checkpoint (fp16, hub layout) to ${DIR} ...`);
    writeCheckpoint();
  }
  if (values['write-checkpoint']) return;
  const prefillRuns = Math.max(1, RUNS - 1);
  console.log(`checkpoint: ${DIR}; KV cache ${values['kv-cache']}; vision: median of ${RUNS} runs after a warm-up; prefill: ${prefillRuns === 2 ? 'the slower of 2 runs' : `median of ${prefillRuns} runs`} after a 32-token warm-up; decode: median gap over 10 tokens of one generation; time to first token: one run; llama-bench: mean of 2 runs\n`);
  const self = fileURLToPath(import.meta.url);
  const rows: Result[] = [];
  const ggufs = await llamaModels(values.formats!.split(','));
  for (const format of values.formats!.split(',')) {
    const args = [self, '--child', format, '--runs', String(RUNS), '--dir', DIR, '--kv-cache', values['kv-cache']!, ...(values.threads ? ['--threads', values.threads] : [])];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
    if (r.status !== 0) {
      console.log(`${format}: failed (exit ${r.status})`);
      continue;
    }
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Result;
    rows.push(res);
    const l = res.limits;
    const peak = peakFor(format, l);
    const visionPeak = peakFor(format === 'bfloat16' ? format : 'auto', l); // the vision tower is not quantised here
    console.log(`${format} (kernels ${res.isa}: ${res.instructions}; ${res.threads} threads; limits now: ${limitsLine(l)})`);
    console.log(`  load ${res.loadS.toFixed(1)} s, peak RSS ${res.peakRssGB.toFixed(2)} GiB`);
    console.log(`  vision (CLIP + projector)  ${(res.visionS * 1000).toFixed(0)} ms (${((100 * res.visionFlop) / res.visionS / 1e9 / visionPeak.value).toFixed(0)}% of the ${visionPeak.name} peak)`);
    console.log(`  prefill ${PROMPT} tokens        ${(PROMPT / res.prefillS).toFixed(1)} tok/s (${res.prefillS.toFixed(2)} s, ${((100 * res.prefillFlop) / res.prefillS / 1e9 / peak.value).toFixed(0)}% of the ${peak.name} peak)`);
    console.log(`  decode batch 1             ${res.decode1.toFixed(2)} tok/s (${((res.decode1 * res.weightBytes) / 1e9).toFixed(1)} GB/s of weights, ${((100 * res.decode1 * res.weightBytes) / 1e9 / l.readGBs).toFixed(0)}% of the read bandwidth)`);
    console.log(`  decode batch 4             ${res.decode4.toFixed(2)} tok/s (${(res.decode4 / res.decode1).toFixed(2)}× batch 1)`);
    console.log(`  time to first token        ${res.ttftS.toFixed(2)} s (one image + ${PROMPT - IMAGE_TOKENS} text tokens)`);
    if (values['torch-python'] && rows.length === 1) {
      const torch = torchVision(values['torch-python'], res.threads);
      console.log(`  PyTorch fp32 vision, same window ${(torch.seconds * 1000).toFixed(0)} ms (torch ${torch.version}, ${torch.threads} threads) → ours ${(res.visionS / torch.seconds).toFixed(2)}× its time`);
    }
    const gguf = ggufs.get(format);
    const lb = gguf ? llamaBench(gguf, res.threads) : null;
    if (lb) {
      console.log(`  llama.cpp, same window     prefill ${lb[0].toFixed(1)} tok/s, decode ${lb[1].toFixed(2)} tok/s (llama-bench -p ${PROMPT} -n 32 -r 2 on ${gguf})`);
      console.log(`  ours / llama.cpp           prefill ${(PROMPT / res.prefillS / lb[0]).toFixed(2)}×, decode ${(res.decode1 / lb[1]).toFixed(2)}×`);
    }
  }
  if (ggufs.size === 0) console.log('\nllama.cpp: no comparison (put llama-bench, and llama-quantize for bf16/q8_0/q4_0, on the PATH or give --llama-bench)');
}

await main();
