/** Public API. */
export { Tensor, type DType, type IntInput } from './tensor/tensor.js';
export { VipLlavaConfig } from './config/vipllava_config.js';
export type { ClipVisionConfig } from './config/clip_vision_config.js';
export type { TextConfig, RopeParameters } from './config/text_config.js';
export type { GenerationConfig } from './config/generation_config.js';
export {
  VipLlavaForConditionalGeneration,
  type FromPretrainedOptions,
  type ForwardInputs,
} from './models/vipllava.js';
export { KVCache } from './models/kv_cache.js';
export type { GenerateOptions, TokenEvent, FinishReason } from './generation/generate.js';
export type { GenerationOptions } from './generation/options.js';
export { ChatSession, type ChatSessionOptions, type ChatReply } from './generation/chat_session.js';
export { Rng } from './generation/sampling.js';
export type { Backend, DeviceTensor, AttentionOptions, Activation, LinearFormat, KVDtype } from './backend/backend.js';
export { ReferenceBackend } from './backend/cpu/reference_backend.js';
export { NativeBackend, type NativeBackendOptions } from './backend/cpu/native_backend.js';
export { SafetensorsFile } from './weights/safetensors.js';
export { canonicalKey } from './weights/key_map.js';
export { Snapshot, type ResolveOptions } from './hub/resolve.js';
export type { ProgressEvent, DownloadProgress, LoadProgress } from './hub/progress.js';
export { VipLlavaError, ConfigError, WeightsError, HubError, InputError } from './errors.js';
export { VipLlavaProcessor, type ProcessInputs, type ProcessorOutput } from './processor/processor.js';
export { VipLlavaTokenizer, type PaddingSide } from './processor/tokenizer.js';
export { CLIPImageProcessor, type ImageAspectRatio, type PreprocessOptions } from './processor/image_processor.js';
export { loadImage, DEFAULT_MAX_PIXELS, type ImageInput, type RawImage, type RgbImage } from './processor/image.js';
export { BUILTIN_TEMPLATES, LLAVA_SYSTEM_PROMPT, type ChatMessage, type ContentPart } from './processor/chat_template.js';
export { IncrementalDetokenizer } from './generation/detokenizer.js';
export { StopStringFilter } from './generation/stopping.js';
export { saveImage } from './processor/image.js';
export { drawVisualPrompts, drawPlan, cropWarnings, compositeOver, type VisualPrompt, type DrawOptions, type DrawnPrompt } from './visual_prompts/draw.js';
export { PALETTE, SHAPES, SHAPE_WORDS, promptPhrase, parseColor, type ColorName, type ShapeName, type Rgb } from './visual_prompts/palette.js';
export type { Plan, Box, FlatPolygon, Pt } from './visual_prompts/shapes.js';
export { DEFAULT_MODEL } from './package_paths.js';
