/**
 * VipLlavaProcessor: the image processor, the tokenizer and the chat template of a checkpoint, and the step
 * that joins them as transformers' LlavaProcessor does: each `<image>` in the text becomes as many image
 * tokens as the vision tower gives features (576 for 336 px / patch 14), texts are tokenized and padded
 * (left by default), and images become pixel values.
 */
import { isObject, type Json } from '../config/fields.js';
import { parseImageProcessorConfig, type ImageProcessorConfig } from '../config/preprocessor_config.js';
import { VipLlavaConfig } from '../config/vipllava_config.js';
import { ConfigError, InputError } from '../errors.js';
import { warn } from '../platform.js';
import { readText } from '../io/byte_source.js';
import { isLlavaConfig } from '../config/llava_config.js';
import { openCheckpoint, readJson, type CheckpointFiles } from '../io/checkpoint.js';
import { readModelConfig, type TowerOptions } from '../io/model_config.js';
import { Tensor } from '../tensor/tensor.js';
import { BUILTIN_TEMPLATES, renderChatTemplate, type BuiltinTemplate, type ChatMessage } from './chat_template.js';
import type { ImageInput } from './image.js';
import { checkAspect, CLIPImageProcessor, type ImageAspectRatio } from './image_processor.js';
import { loadTokenizer } from './tokenizer_files.js';
import type { PaddingSide, VipLlavaTokenizer } from './tokenizer.js';

export interface ProcessInputs {
  /** One prompt or a batch; `<image>` marks where each image goes, in order. */
  text: string | string[];
  images?: ImageInput | ImageInput[];
  /** Pad a batch to its longest prompt (default true). */
  padding?: boolean;
  /** Default: the tokenizer's padding_side, else left (what batched generation needs). */
  paddingSide?: PaddingSide;
  /** 'crop' (default, the hub processor) or 'pad' (square padding first, as ViP-LLaVA was trained). */
  imageAspectRatio?: ImageAspectRatio;
  /** Refuse images with more pixels than this (default: Pillow's decompression-bomb limit). */
  maxPixels?: number;
}

export interface ProcessorOutput {
  inputIds: Tensor<'int64'>;
  attentionMask: Tensor<'int64'>;
  pixelValues?: Tensor<'float32'>;
}

export interface ProcessorSettings {
  imageToken: string;
  /** Image tokens per image when the processor has no patchSize: the model config's count. */
  imageTokensPerImage: number;
  /** Where the checkpoint's chat template came from, or null when it has none. */
  chatTemplate: { source: string; text: string } | null;
  /**
   * The original LLaVA format: the image token is this id past the vocabulary, and prompts are tokenized as its
   * tokenizer_image_token does (each text between images on its own, one BOS kept); absent for the hub processor.
   */
  imageTokenId?: number;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class VipLlavaProcessor {
  /**
   * LlavaProcessor's `patch_size`, `num_additional_image_tokens` and `vision_feature_select_strategy`
   * (processor_config.json), settable as transformers' attributes are; with a patch size, each `<image>` expands to
   * (height / patch) · (width / patch) + additional − (1 for "default") tokens of the processed image's size.
   * A processor saved without a patch size expands to the image tokens the model config gives.
   */
  patchSize: number | null;
  numAdditionalImageTokens: number;
  visionFeatureSelectStrategy: string | null;

  constructor(
    readonly tokenizer: VipLlavaTokenizer,
    readonly imageProcessor: CLIPImageProcessor,
    readonly settings: ProcessorSettings,
    attributes: { patchSize?: number | null; numAdditionalImageTokens?: number; visionFeatureSelectStrategy?: string | null } = {},
  ) {
    if (settings.imageTokenId === undefined && tokenizer.tokenToId(settings.imageToken) === undefined) {
      throw new ConfigError(`the tokenizer has no "${settings.imageToken}" token; add it to tokenizer.json's added_tokens`);
    }
    this.patchSize = attributes.patchSize ?? null;
    this.numAdditionalImageTokens = attributes.numAdditionalImageTokens ?? 0;
    this.visionFeatureSelectStrategy = attributes.visionFeatureSelectStrategy ?? null;
  }

  /** Image tokens each `<image>` becomes (see patchSize). */
  get imageTokensPerImage(): number {
    return countImageTokens(this.imageProcessor.config, this) ?? this.settings.imageTokensPerImage;
  }

  /** Reads tokenizer, image processor, processor and chat-template files from a folder, the cache or the hub. */
  static async fromPretrained(pathOrId: string | CheckpointFiles, options: TowerOptions = {}): Promise<VipLlavaProcessor> {
    const snapshot = openCheckpoint(pathOrId, options);
    const optionalJson = async (file: string, from = snapshot): Promise<{ json: Json; path: string } | null> => {
      const source = await from.optionalFile(file);
      return source ? { json: await readJson(source), path: source.name } : null;
    };
    const modelConfig = await optionalJson('config.json');
    if (modelConfig && isLlavaConfig(modelConfig.json)) {
      // the original LLaVA format: the tower's image processor, the template its eval scripts pick, its tokenization
      const { config, llava } = await readModelConfig(snapshot, options);
      const { tokenizer } = await loadTokenizer(snapshot, { prependNormalizer: llava!.fastTokenizer });
      const image = await optionalJson('preprocessor_config.json', llava!.tower);
      if (!image) throw new ConfigError(`${llava!.tower.description} (the vision tower) has no preprocessor_config.json`);
      const text = BUILTIN_TEMPLATES[llava!.template];
      const settings = {
        imageToken: '<image>',
        imageTokensPerImage: config.imageTokensPerImage,
        chatTemplate: { source: `the built-in ${llava!.template} template (${modelConfig.path})`, text },
        imageTokenId: config.image_token_index,
      };
      // the original counts num_patches of its tower: CLS and patches, CLS dropped
      const attributes = { patchSize: config.vision_config.patch_size, numAdditionalImageTokens: 1, visionFeatureSelectStrategy: 'default' };
      return new VipLlavaProcessor(tokenizer, new CLIPImageProcessor(parseImageProcessorConfig(image.json, image.path), llava!.imageAspectRatio), settings, attributes);
    }

    const { tokenizer, config: tokenizerConfig } = await loadTokenizer(snapshot);
    const processorConfig = await optionalJson('processor_config.json');
    const preprocessor = await optionalJson('preprocessor_config.json');
    const nested = processorConfig && isObject(processorConfig.json.image_processor) ? processorConfig.json.image_processor : null;
    const imageConfig = preprocessor
      ? parseImageProcessorConfig(preprocessor.json, preprocessor.path)
      : nested
        ? parseImageProcessorConfig(nested, `${processorConfig!.path} (image_processor)`)
        : null;
    if (!imageConfig) throw new ConfigError(`${snapshot.description} has no preprocessor_config.json (nor an image_processor in processor_config.json)`);

    // LlavaProcessor's attributes; without a patch size (processors saved before transformers 4.47), the image
    // tokens come from the model config, as transformers' legacy expansion in the model gave them
    const pc = processorConfig?.json ?? {};
    const imageToken = typeof pc.image_token === 'string' ? pc.image_token : '<image>';
    const attributes = {
      patchSize: typeof pc.patch_size === 'number' ? pc.patch_size : null,
      numAdditionalImageTokens: typeof pc.num_additional_image_tokens === 'number' ? pc.num_additional_image_tokens : 0,
      visionFeatureSelectStrategy: typeof pc.vision_feature_select_strategy === 'string' ? pc.vision_feature_select_strategy : null,
    };
    let perImage = countImageTokens(imageConfig, attributes) ?? 0;
    if (perImage === 0) {
      const config = modelConfig ? VipLlavaConfig.fromDict(modelConfig.json, modelConfig.path) : null;
      if (!config) throw new ConfigError(`${snapshot.description} has neither a patch_size in processor_config.json nor a config.json to count image tokens from`);
      perImage = config.imageTokensPerImage;
      if (attributes.patchSize === null) {
        warn(
          `${processorConfig?.path ?? `${snapshot.description}/processor_config.json`} has no patch_size: add processor.patch_size = ${config.vision_config.patch_size}, processor.num_additional_image_tokens = 1 and processor.vision_feature_select_strategy = "default" (transformers 4.47 warned of this and 4.50 fails); each <image> becomes the model config's ${perImage} image tokens`,
          'VIPLLAVA_PROCESSOR_ATTRIBUTES',
        );
      }
    }

    // The checkpoint's chat template, in the order transformers looks for it.
    let chatTemplate: ProcessorSettings['chatTemplate'] = null;
    const jinja = await snapshot.optionalFile('chat_template.jinja');
    const templateJson = await optionalJson('chat_template.json');
    if (jinja) chatTemplate = { source: jinja.name, text: await readText(jinja) };
    else if (typeof templateJson?.json.chat_template === 'string') chatTemplate = { source: templateJson.path, text: templateJson.json.chat_template };
    else if (typeof pc.chat_template === 'string') chatTemplate = { source: processorConfig!.path, text: pc.chat_template };
    else if (typeof tokenizerConfig?.json.chat_template === 'string') chatTemplate = { source: tokenizerConfig.path, text: tokenizerConfig.json.chat_template };

    return new VipLlavaProcessor(tokenizer, new CLIPImageProcessor(imageConfig), { imageToken, imageTokensPerImage: perImage, chatTemplate }, attributes);
  }

  /**
   * Renders a conversation to a prompt string. `template`: "hub" or "llava_v1" (built in), Jinja source, or
   * undefined for the checkpoint's own template (else "hub").
   */
  applyChatTemplate(messages: ChatMessage[], { addGenerationPrompt = false, template }: { addGenerationPrompt?: boolean; template?: BuiltinTemplate | (string & {}) } = {}): string {
    let source: string;
    if (template === undefined) source = this.settings.chatTemplate?.text ?? BUILTIN_TEMPLATES.hub;
    else if (template in BUILTIN_TEMPLATES) source = BUILTIN_TEMPLATES[template as BuiltinTemplate];
    else if (template.includes('{{') || template.includes('{%')) source = template;
    else throw new InputError(`unknown chat template "${template}" (built in: ${Object.keys(BUILTIN_TEMPLATES).join(', ')}; or pass Jinja source)`);
    return renderChatTemplate(source, messages, { addGenerationPrompt });
  }

  /** One prompt's token ids, each image marker expanded to the image tokens (BOS added). */
  encodePrompt(text: string): number[] {
    const id = this.settings.imageTokenId;
    if (id === undefined) return this.tokenizer.encode(this.expandImageMarkers(text));
    // tokenizer_image_token (llava/mm_utils.py): each chunk tokenized alone; the first chunk's BOS kept, the others' dropped
    const chunks = text.split(this.settings.imageToken).map((chunk) => this.tokenizer.encode(chunk));
    const bos = this.tokenizer.bosTokenId;
    const offset = chunks[0].length > 0 && chunks[0][0] === bos ? 1 : 0;
    const ids = offset ? [chunks[0][0]] : [];
    const images = Array<number>(this.imageTokensPerImage).fill(id);
    chunks.forEach((chunk, i) => {
      if (i > 0) ids.push(...images);
      ids.push(...chunk.slice(offset));
    });
    return ids;
  }

  private expandImageMarkers(text: string): string {
    return text.replaceAll(this.settings.imageToken, this.settings.imageToken.repeat(this.imageTokensPerImage));
  }

  /** Prompts and images → input ids, attention mask and pixel values, ready for the model. */
  async process(inputs: ProcessInputs): Promise<ProcessorOutput> {
    checkAspect(inputs.imageAspectRatio);
    const texts = Array.isArray(inputs.text) ? inputs.text : [inputs.text];
    if (texts.length === 0 || texts.some((t) => typeof t !== 'string')) throw new InputError('text must be a string or a non-empty array of strings');
    const images = inputs.images === undefined ? [] : Array.isArray(inputs.images) ? inputs.images : [inputs.images];
    const marker = new RegExp(escapeRegExp(this.settings.imageToken), 'g');
    const markers = texts.reduce((n, t) => n + (t.match(marker)?.length ?? 0), 0);
    if (markers !== images.length) {
      throw new InputError(`the text has ${markers} ${this.settings.imageToken} marker${markers === 1 ? '' : 's'} but ${images.length} image${images.length === 1 ? ' was' : 's were'} given`);
    }
    const { inputIds, attentionMask } = this.tokenizer.padBatch(texts.map((t) => this.encodePrompt(t)), {
      padding: inputs.padding ?? true,
      paddingSide: inputs.paddingSide ?? this.tokenizer.paddingSide,
    });
    const out: ProcessorOutput = { inputIds: int64(inputIds), attentionMask: int64(attentionMask) };
    if (images.length > 0) {
      out.pixelValues = (await this.imageProcessor.preprocess(images, { imageAspectRatio: inputs.imageAspectRatio, maxPixels: inputs.maxPixels })).pixelValues;
    }
    return out;
  }
}

/** LlavaProcessor's count for images of the processor's output size, or null without a patch size (or a fixed size). */
function countImageTokens(c: ImageProcessorConfig, a: { patchSize: number | null; numAdditionalImageTokens: number; visionFeatureSelectStrategy: string | null }): number | null {
  const p = a.patchSize;
  const size = c.do_center_crop ? c.crop_size : 'height' in c.size ? c.size : null;
  if (p === null || size === null) return null;
  if (!Number.isInteger(p) || p < 1) throw new InputError(`processor.patchSize must be a positive integer, got ${String(p)}`);
  const n = Math.floor(size.height / p) * Math.floor(size.width / p) + a.numAdditionalImageTokens - (a.visionFeatureSelectStrategy === 'default' ? 1 : 0);
  if (n < 1) throw new InputError(`processor.patchSize ${p} gives ${n} image tokens for ${size.height}×${size.width} images`);
  return n;
}

function int64(rows: number[][]): Tensor<'int64'> {
  const cols = rows[0]?.length ?? 0;
  const data = new BigInt64Array(rows.length * cols);
  rows.forEach((r, i) => r.forEach((v, j) => (data[i * cols + j] = BigInt(v))));
  return new Tensor('int64', data, [rows.length, cols]);
}
