/**
 * VipLlavaForConditionalGeneration as users meet it: the network (models/vipllava.ts) loaded from a
 * checkpoint onto an engine from the registry, with generate() and generateStream() from generation/.
 * This file is where loading, engines and generation meet; the layers below know nothing of each other.
 */
import type { Backend } from './backend/backend.js';
import { checkBackendOptions, createBackend, type BackendOptions } from './backend/registry.js';
import { oneOf } from './checks.js';
import { DEFAULT_GENERATION_CONFIG, type GenerationConfig } from './config/generation_config.js';
import { VipLlavaConfig } from './config/vipllava_config.js';
import { decodeTokens, generate, type TokenEvent } from './generation/generate.js';
import type { GenerateOptions } from './generation/options.js';
import { openCheckpoint, type CheckpointFiles } from './io/checkpoint.js';
import { readModelConfig, type TowerOptions } from './io/model_config.js';
import { VipLlavaModelNetwork, VipLlavaNetwork, type VipLlavaBaseNetwork } from './models/vipllava.js';
import { readGenerationConfig } from './processor/llava_generation.js';
import type { Tensor } from './tensor/tensor.js';
import { KV_DTYPES, WEIGHT_DTYPES, type KVDtype, type WeightDtype } from './vocabulary.js';
import { repacks } from './weights/formats.js';
import { loadWeights, weightFiles } from './weights/load.js';
import type { PackedCache } from './weights/packed_cache.js';

export interface FromPretrainedOptions extends TowerOptions, BackendOptions {
  /**
   * Weights at run time: "auto" keeps the checkpoint's dtype with float32 compute; "float32" / "float16"
   * convert storage; "bfloat16" computes linear layers in bf16; "q8_0" / "q4_0" quantise the language model's
   * linear layers (native engine only). See WeightDtype.
   */
  dtype?: WeightDtype;
  /** With q8_0 / q4_0, quantise the vision tower and projector too (default false). */
  quantizeVision?: boolean;
  /**
   * How the KV cache holds keys and values: "float32" (default; what transformers computes in fp32) or
   * "float16" (half the memory and bandwidth, keys and values rounded to fp16 as llama.cpp's default cache does).
   */
  kvCacheDtype?: KVDtype;
  /** An engine instance to use instead of `device` / `engine`. */
  backend?: Backend;
  /** Where repacked weights are kept between loads (Node default: ~/.cache/vipllava/packed; null: nowhere). */
  packedCache?: PackedCache | null;
}

/**
 * The load options checked once, for the library and the CLI alike; `name` spells an option as the caller
 * knows it (the CLI's flags) in the error.
 */
export function checkLoadOptions(o: FromPretrainedOptions, name: (option: string) => string = (s) => s): FromPretrainedOptions {
  if (o.dtype !== undefined) oneOf(o.dtype, WEIGHT_DTYPES, name('dtype'));
  if (o.kvCacheDtype !== undefined) oneOf(o.kvCacheDtype, KV_DTYPES, name('kvCacheDtype'));
  if (!o.backend) checkBackendOptions(o, name);
  return o;
}

let defaultPackedCache: PackedCache | null = null;

/** The packed-weight cache loads use when they name none (the Node entry installs the disk cache). */
export function setDefaultPackedCache(cache: PackedCache | null): void {
  defaultPackedCache = cache;
}

/**
 * A checkpoint's config from a folder, the Hugging Face cache, the hub, or given files: its config.json, or for
 * the original LLaVA format the VipLlava config its config.json and its vision tower's config mean.
 */
export async function loadConfig(source: string | CheckpointFiles, options: TowerOptions = {}): Promise<VipLlavaConfig> {
  return (await readModelConfig(openCheckpoint(source, options), options)).config;
}

type NetworkClass<T> = new (config: VipLlavaConfig, generationConfig: GenerationConfig, backend: Backend, kvCacheDtype: KVDtype) => T;

/** A network of class `Network` loaded from a checkpoint; tensors matching `ignored` are skipped without a warning. */
async function loadNetwork<T extends VipLlavaBaseNetwork>(Network: NetworkClass<T>, source: string | CheckpointFiles, options: FromPretrainedOptions, ignored?: RegExp): Promise<T> {
  checkLoadOptions(options);
  const checkpoint = openCheckpoint(source, options);
  const { config, llava } = await readModelConfig(checkpoint, options);
  const generationConfig = await readGenerationConfig(checkpoint, llava, config.text_config.vocab_size);
  const backend = options.backend ?? (await createBackend(options));
  const dtype = options.dtype ?? 'auto';
  const model = new Network(config, generationConfig, backend, options.kvCacheDtype ?? 'float32');
  // the original LLaVA format holds no vision tower of its own: the tower's checkpoint gives it
  const files = [...(await weightFiles(checkpoint)), ...(llava ? await weightFiles(llava.tower) : [])];
  await loadWeights(files, model.parameters(), backend, checkpoint.description, {
    dtype,
    quantizeVision: options.quantizeVision,
    onProgress: options.onProgress,
    packedCache: repacks(dtype) ? (options.packedCache === undefined ? defaultPackedCache : options.packedCache) : null,
    activations: [config.vision_config.hidden_act, config.text_config.hidden_act, config.projector_hidden_act],
    ignored,
  });
  return model;
}

/**
 * VipLlavaModel as transformers has it: the vision tower, the projector and the text model, no LM head.
 * `forward()` gives `lastHiddenState` (and, as asked, `hiddenStates`, `attentions`, `imageHiddenStates`). It loads
 * every checkpoint VipLlavaForConditionalGeneration loads, leaving its lm_head unread.
 */
export class VipLlavaModel extends VipLlavaModelNetwork {
  static fromPretrained(source: string | CheckpointFiles, options: FromPretrainedOptions = {}): Promise<VipLlavaModel> {
    return loadNetwork(VipLlavaModel, source, options, /^lm_head\./);
  }
}

export class VipLlavaForConditionalGeneration extends VipLlavaNetwork {
  /** Loads a checkpoint from a folder, the Hugging Face cache, the hub (downloading into the cache), or given files. */
  static fromPretrained(source: string | CheckpointFiles, options: FromPretrainedOptions = {}): Promise<VipLlavaForConditionalGeneration> {
    return loadNetwork(VipLlavaForConditionalGeneration, source, options);
  }

  /** Every parameter the config implies, by canonical checkpoint name, with its shape. */
  static parameterShapes(config: VipLlavaConfig): Map<string, readonly number[]> {
    const shapesOnly = new VipLlavaNetwork(config, { ...DEFAULT_GENERATION_CONFIG }, null);
    return new Map([...shapesOnly.parameters()].map(([name, p]) => [name, p.shape]));
  }

  /**
   * Greedy, sampling or beam search, as transformers' generate(): the prompt followed by the new tokens,
   * [batch · numReturnSequences, length] (int64); finished rows are padded.
   */
  generate(options: GenerateOptions): Promise<Tensor<'int64'>> {
    return generate(this, options);
  }

  /**
   * Greedy decoding or sampling, one event per row per token as it is produced (with text, given a
   * tokenizer). The generator's return value is what generate() would return. Rows finish independently.
   */
  generateStream(options: GenerateOptions): AsyncGenerator<TokenEvent, Tensor<'int64'>> {
    return decodeTokens(this, options);
  }
}
