/**
 * The public API, browser-safe: it reaches no Node module, no sharp and no addon (the "browser" and "default"
 * export conditions). Node users get index.node.ts, which adds files, the hub cache, sharp and the native engine.
 */
export { Tensor, type DType, type IntInput } from './tensor/tensor.js';
export { VipLlavaConfig } from './config/vipllava_config.js';
export type { ClipVisionConfig } from './config/clip_vision_config.js';
export type { TextConfig, RopeParameters } from './config/text_config.js';
export type { GenerationConfig } from './config/generation_config.js';
export { VipLlavaForConditionalGeneration, VipLlavaModel, checkLoadOptions, loadConfig, type FromPretrainedOptions } from './vipllava.js';
export type { ForwardInputs, VipLlavaCausalLMOutput, VipLlavaModelOutput } from './models/vipllava.js';
export { KVCache } from './models/kv_cache.js';
export type { TokenEvent, FinishReason } from './generation/generate.js';
export type { GenerateOptions, GenerationOptions } from './generation/options.js';
export { checkGenerationOptions } from './generation/options.js';
export { ChatSession, type ChatSessionOptions, type ChatReply } from './generation/chat_session.js';
export { ContinuousBatcher, type BatcherOptions } from './generation/continuous_batching.js';
export { Rng } from './rng.js';
export { createBackend, unavailableEngines, type BackendOptions } from './backend/registry.js';
export type { Backend, DeviceTensor } from './backend/backend.js';
export {
  WEIGHT_DTYPES, KV_DTYPES, ENGINE_NAMES, DEVICES,
  type Activation, type WeightDtype, type KVDtype, type EngineName, type Device,
} from './vocabulary.js';
export { BlobSource, HttpSource, MemorySource, type ByteSource } from './io/byte_source.js';
export { HttpCheckpoint, openCheckpoint, type CheckpointFiles, type ResolveOptions } from './io/checkpoint.js';
export type { ProgressEvent, DownloadProgress, LoadProgress } from './io/progress.js';
export type { PackedCache, PackedShard } from './weights/packed_cache.js';
export { VipLlavaError, ConfigError, WeightsError, HubError, InputError } from './errors.js';
export { VipLlavaProcessor, type ProcessInputs, type ProcessorOutput } from './processor/processor.js';
export { VipLlavaTokenizer, type PaddingSide } from './processor/tokenizer.js';
export { CLIPImageProcessor, type ImageAspectRatio, type PreprocessOptions } from './processor/image_processor.js';
export { loadImage, DEFAULT_MAX_PIXELS, type ImageInput, type RawImage, type RgbImage } from './processor/image.js';
export { BUILTIN_TEMPLATES, LLAVA_SYSTEM_PROMPT, type ChatMessage, type ContentPart } from './processor/chat_template.js';
export { IncrementalDetokenizer } from './generation/detokenizer.js';
export { StopStringFilter } from './generation/stopping.js';
export { drawVisualPrompts, drawPlan, cropWarnings, compositeOver, fillPhrases, type VisualPrompt, type DrawOptions, type DrawnPrompt } from './visual_prompts/draw.js';
export { PALETTE, SHAPES, SHAPE_WORDS, promptPhrase, parseColor, type ColorName, type ShapeName, type Rgb } from './visual_prompts/palette.js';
export type { Plan, Box, FlatPolygon, Pt } from './visual_prompts/shapes.js';
