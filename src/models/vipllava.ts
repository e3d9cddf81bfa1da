/**
 * VipLlavaForConditionalGeneration's network: the CLIP tower's selected hidden states (CLS dropped,
 * concatenated) go through the projector and replace the embeddings of the image tokens; the text model and
 * lm_head give logits. Mirrors modeling_vipllava.py in transformers 5.x. It runs on the engine it is given;
 * loading and generation live above it (src/vipllava.ts, generation/).
 */
import type { Backend, DeviceTensor } from '../backend/backend.js';
import * as ops from '../backend/ops.js';
import type { GenerationConfig } from '../config/generation_config.js';
import type { VipLlavaConfig } from '../config/vipllava_config.js';
import { InputError, VipLlavaError } from '../errors.js';
import { readIntMatrix, readMask, Tensor, type IntInput } from '../tensor/tensor.js';
import type { KVDtype } from '../vocabulary.js';
import { ClipVisionModel } from './clip_vision.js';
import { KVCache } from './kv_cache.js';
import { causalLmLoss } from './loss.js';
import { Linear, Module, namedParameters, type Parameter } from './modules.js';
import { VipLlavaMultiModalProjector } from './projector.js';
import { createTextModel, type TextModel } from './text_model.js';

export interface ForwardInputs {
  inputIds: IntInput;
  /** [batch, past + seq]; 0 marks padding. Defaults to all ones. */
  attentionMask?: IntInput;
  /** float32 [numImages, channels, size, size], images in the order their tokens appear. */
  pixelValues?: Tensor;
  /** Token ids to score; -100 is ignored. Gives `loss` (mean cross-entropy of the shifted labels). */
  labels?: IntInput;
  /** Keep only the last k positions' logits (0 keeps all). */
  logitsToKeep?: number;
  /** [batch, seq]; defaults to past + 0..seq-1 for every row, as transformers' forward does. */
  positionIds?: IntInput;
  /** Keys and values of earlier calls; this call appends to it. */
  cache?: KVCache;
}

/** One forward of the text model, on host arrays already checked (generation's steps and forward() use it). */
export interface StepInputs {
  ids: Int32Array;
  batch: number;
  seq: number;
  positions: Int32Array;
  keyMask?: Uint8Array;
  cache: KVCache | null;
  imageFeatures?: DeviceTensor | null;
  logitsToKeep: number;
}

class VipLlavaModel extends Module {
  vision_tower: ClipVisionModel;
  multi_modal_projector: VipLlavaMultiModalProjector;
  language_model: TextModel;

  constructor(config: VipLlavaConfig) {
    super();
    this.vision_tower = new ClipVisionModel(config.vision_config);
    this.multi_modal_projector = new VipLlavaMultiModalProjector(config);
    this.language_model = createTextModel(config.text_config);
  }
}

export class VipLlavaNetwork extends Module {
  model: VipLlavaModel;
  lm_head: Linear;

  constructor(
    readonly config: VipLlavaConfig,
    readonly generationConfig: GenerationConfig,
    private readonly engine: Backend | null,
    /** How caches made by createCache() hold keys and values. */
    readonly kvCacheDtype: KVDtype = 'float32',
  ) {
    super();
    this.model = new VipLlavaModel(config);
    this.lm_head = new Linear(config.text_config.hidden_size, config.text_config.vocab_size, false);
  }

  /** The engine the weights live on. */
  get backend(): Backend {
    if (!this.engine) throw new VipLlavaError('this model was built without an engine (for its parameter shapes only)');
    return this.engine;
  }

  /** Every parameter, by canonical checkpoint name. */
  parameters(): Map<string, Parameter> {
    return namedParameters(this);
  }

  /** An empty cache for `batchSize` rows of up to `maxLength` positions. */
  createCache(batchSize: number, maxLength: number): KVCache {
    const t = this.config.text_config;
    return new KVCache(this.backend, t.num_hidden_layers, batchSize, maxLength, t.num_key_value_heads * t.head_dim, this.kvCacheDtype);
  }

  /** Pixel values checked against the vision config, on the engine. */
  private checkPixels(pixelValues: Tensor): DeviceTensor {
    const v = this.config.vision_config;
    if (!(pixelValues instanceof Tensor)) throw new InputError('pixelValues must be a Tensor');
    if (pixelValues.dims.length !== 4) {
      throw new InputError(`pixelValues must have shape [numImages, channels, height, width], got [${pixelValues.dims.join(', ')}]`);
    }
    const [n, c, h, w] = pixelValues.dims;
    if (h !== v.image_size || w !== v.image_size) {
      throw new InputError(`Input image size (${h}*${w}) doesn't match model (${v.image_size}*${v.image_size}).`);
    }
    if (c !== v.num_channels) throw new InputError(`pixelValues have ${c} channels but the vision tower expects ${v.num_channels}`);
    if (pixelValues.dtype === 'int32' || pixelValues.dtype === 'int64') throw new InputError('pixelValues must be floating point');
    return this.backend.fromHost(pixelValues.toFloat32(), [n, c, h, w]);
  }

  /** The vision tower's hidden states [0..upTo] (default: all), each [numImages, 1 + patches, visionHidden]. */
  async getVisionHiddenStates(pixelValues: Tensor, upTo?: number): Promise<Tensor[]> {
    const states = this.model.vision_tower.forward(this.checkPixels(pixelValues), upTo);
    return Promise.all(states.map(async (s) => new Tensor('float32', await ops.read(s), s.dims)));
  }

  /** Projected image features, enqueued (not read back). */
  imageFeatures(pixelValues: Tensor): DeviceTensor {
    const states = this.model.vision_tower.forward(this.checkPixels(pixelValues), this.config.visionLayersNeeded);
    const patches = this.config.imageTokensPerImage;
    // Each selected state [N, 1 + P, C] loses its CLS row; the list is concatenated on the feature axis.
    const selected = this.config.featureLayerIndices.map((i) => ops.narrow(states[i], 1, 1, patches));
    const features = selected.length === 1 ? selected[0] : ops.concat(selected, 2); // [N, P, layers·C]
    return this.model.multi_modal_projector.forward(features); // [N, P, textHidden]
  }

  /** Image features [numImages, patches, textHidden], as transformers' get_image_features(...).pooler_output. */
  async getImageFeatures(pixelValues: Tensor): Promise<Tensor> {
    const f = this.imageFeatures(pixelValues);
    return new Tensor('float32', await ops.read(f), f.dims);
  }

  /** Embeds ids, writes image features over the image tokens, runs the text model and lm_head. */
  step(s: StepInputs): DeviceTensor {
    // every intermediate (each layer's output too) released when the step returns: a decode step then reuses the
    // last one's buffers, and nothing waits for the garbage collector
    return ops.tidy(this.lm_head.weight.value, () => this.stepLogits(s));
  }

  private stepLogits(s: StepInputs): DeviceTensor {
    const hidden = this.config.text_config.hidden_size;
    // an image token past the vocabulary (the original LLaVA format's) is embedded as id 0, as transformers' Llava
    // does: its rows are replaced by the image features
    const image = this.config.image_token_index;
    const ids = image < this.config.text_config.vocab_size ? s.ids : s.ids.map((id) => (id === image ? 0 : id));
    let embeds = this.model.language_model.embed_tokens.forward(ids); // [B·S, hidden]
    if (s.imageFeatures) {
      const rows: number[] = [];
      s.ids.forEach((id, i) => id === this.config.image_token_index && rows.push(i));
      const [n, p] = s.imageFeatures.dims;
      if (rows.length * hidden !== s.imageFeatures.size) {
        throw new InputError(`Image features and image tokens do not match, tokens: ${rows.length}, features: ${n * p}`);
      }
      embeds = ops.scatterRows(embeds, Int32Array.from(rows), ops.reshape(s.imageFeatures, [n * p, hidden]));
    }
    let h = this.model.language_model.forward(ops.reshape(embeds, [s.batch, s.seq, hidden]), {
      positions: s.positions,
      cache: s.cache,
      pastLength: s.cache?.length ?? 0,
      keyMask: s.keyMask,
    });
    if (s.logitsToKeep > 0 && s.logitsToKeep < s.seq) h = ops.narrow(h, 1, s.seq - s.logitsToKeep, s.logitsToKeep);
    return this.lm_head.forward(h); // [B, kept, vocab]
  }

  /** Logits [batch, seq (or logitsToKeep), vocab] and, with labels, the loss. */
  async forward(inputs: ForwardInputs): Promise<{ logits: Tensor; loss?: number }> {
    const ids = readIntMatrix(inputs.inputIds, 'inputIds');
    const { rows: batch, cols: seq } = ids;
    if (seq === 0) throw new InputError('inputIds is empty');
    const cache = inputs.cache ?? null;
    cache?.reserve(seq, batch);
    const past = cache?.length ?? 0;
    const keyMask = inputs.attentionMask === undefined ? undefined : readMask(inputs.attentionMask, batch, past + seq);
    let positions: Int32Array;
    if (inputs.positionIds !== undefined) {
      const p = readIntMatrix(inputs.positionIds, 'positionIds');
      if (p.rows !== batch || p.cols !== seq) throw new InputError(`positionIds must be [${batch}, ${seq}], got [${p.rows}, ${p.cols}]`);
      positions = p.data;
    } else {
      positions = new Int32Array(batch * seq).map((_, i) => past + (i % seq));
    }
    const logitsToKeep = inputs.logitsToKeep ?? 0;
    if (!Number.isInteger(logitsToKeep) || logitsToKeep < 0) throw new InputError(`logitsToKeep must be an integer >= 0, got ${logitsToKeep}`);
    if (inputs.labels !== undefined && logitsToKeep !== 0) throw new InputError('labels need the logits of every position; leave logitsToKeep at 0');
    const imageFeatures = inputs.pixelValues ? this.imageFeatures(inputs.pixelValues) : null;
    const out = this.step({ ids: ids.data, batch, seq, positions, keyMask, cache, imageFeatures, logitsToKeep });
    const logits = new Tensor('float32', await ops.take(out), out.dims);
    if (inputs.labels === undefined) return { logits };
    const labels = readIntMatrix(inputs.labels, 'labels');
    if (labels.rows !== batch || labels.cols !== seq) throw new InputError(`labels must be [${batch}, ${seq}] like inputIds, got [${labels.rows}, ${labels.cols}]`);
    return { logits, loss: causalLmLoss(logits.data as Float32Array, labels.data, batch, seq, this.config.text_config.vocab_size) };
  }
}
