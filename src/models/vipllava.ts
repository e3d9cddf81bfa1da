/**
 * VipLlavaModel's and VipLlavaForConditionalGeneration's networks: the CLIP tower's selected hidden states (CLS
 * dropped, concatenated) go through the projector and replace the embeddings of the image tokens; the text model
 * gives hidden states, and lm_head logits. Mirrors modeling_vipllava.py in transformers 5.x, outputs included
 * (hidden states, attention weights, image hidden states). It runs on the engine it is given; loading and
 * generation live above it (src/vipllava.ts, generation/).
 */
import type { Backend, DeviceTensor } from '../backend/backend.js';
import * as ops from '../backend/ops.js';
import type { GenerationConfig } from '../config/generation_config.js';
import type { VipLlavaConfig } from '../config/vipllava_config.js';
import { InputError, VipLlavaError } from '../errors.js';
import { readIntMatrix, readMask, Tensor, type IntInput } from '../tensor/tensor.js';
import type { KVDtype } from '../vocabulary.js';
import { attentionWeights } from './attention_weights.js';
import { ClipVisionModel } from './clip_vision.js';
import type { ForwardRecord } from './decoder.js';
import { KVCache } from './kv_cache.js';
import { causalLmLoss } from './loss.js';
import { Linear, Module, namedParameters, type Parameter } from './modules.js';
import { VipLlavaMultiModalProjector } from './projector.js';
import { createTextModel, type TextModel } from './text_model.js';

export interface ForwardInputs {
  /** [batch, seq] token ids; or give inputsEmbeds instead. */
  inputIds?: IntInput;
  /**
   * float32 [batch, seq, hidden] embeddings in place of inputIds, as transformers' inputs_embeds; image features
   * replace the rows equal to the image token's embedding.
   */
  inputsEmbeds?: Tensor;
  /** [batch, past + seq]; 0 marks padding. Defaults to all ones. */
  attentionMask?: IntInput;
  /** float32 [numImages, channels, size, size], images in the order their tokens appear. */
  pixelValues?: Tensor;
  /** The vision layers feeding the projector for this call (default: the config's vision_feature_layers). */
  visionFeatureLayers?: number | number[];
  /** Token ids to score; -100 is ignored. Gives `loss` (mean cross-entropy of the shifted labels). */
  labels?: IntInput;
  /** Keep only the last k positions' logits (0 keeps all). */
  logitsToKeep?: number;
  /** [batch, seq]; defaults to past + 0..seq-1 for every row, as transformers' forward does. */
  positionIds?: IntInput;
  /** Keys and values of earlier calls; this call appends to it. */
  cache?: KVCache;
  /** Return every hidden state of the text model (the embeddings, then each layer's output, the last after the final norm). */
  outputHiddenStates?: boolean;
  /** Return every layer's attention weights [batch, heads, seq, past + seq], as transformers' eager attention gives them. */
  outputAttentions?: boolean;
}

/** What VipLlavaModel.forward returns (transformers' VipLlavaModelOutputWithPast). */
export interface VipLlavaModelOutput {
  /** [batch, seq, hidden], after the final norm. */
  lastHiddenState: Tensor;
  hiddenStates?: Tensor[];
  attentions?: Tensor[];
  /** The projected image features [numImages, patches, hidden] when pixelValues were given. */
  imageHiddenStates?: Tensor;
}

/** What VipLlavaForConditionalGeneration.forward returns (transformers' VipLlavaCausalLMOutputWithPast). */
export interface VipLlavaCausalLMOutput {
  /** [batch, seq (or logitsToKeep), vocab]. */
  logits: Tensor;
  loss?: number;
  hiddenStates?: Tensor[];
  attentions?: Tensor[];
  imageHiddenStates?: Tensor;
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
  /** [batch·seq, hidden] embeddings to use instead of embedding `ids` (which then only mark the image rows). */
  embeds?: DeviceTensor;
  /** Where the forward copies hidden states and attention inputs. */
  record?: ForwardRecord;
}

/** A forward's inputs checked and on the engine (what forward() hands to a step, and reads back after it). */
interface Prepared {
  step: StepInputs;
  imageHiddenStates?: Tensor;
  /** [batch, past + seq] as attention sees it. */
  keyMask?: Uint8Array;
  pastLength: number;
}

class VipLlavaModule extends Module {
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

/** What both networks share: the vision tower, the projector and the text model, and the steps before a head. */
export class VipLlavaBaseNetwork extends Module {
  model: VipLlavaModule;

  constructor(
    readonly config: VipLlavaConfig,
    readonly generationConfig: GenerationConfig,
    private readonly engine: Backend | null,
    /** How caches made by createCache() hold keys and values. */
    readonly kvCacheDtype: KVDtype = 'float32',
  ) {
    super();
    this.model = new VipLlavaModule(config);
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

  /** Projected image features, enqueued (not read back); `layers`: this call's vision feature layers. */
  imageFeatures(pixelValues: Tensor, layers?: number | number[]): DeviceTensor {
    const indices = layers === undefined ? this.config.featureLayerIndices : this.config.featureLayerIndicesOf(layers, 'visionFeatureLayers');
    const states = this.model.vision_tower.forward(this.checkPixels(pixelValues), Math.max(...indices));
    const patches = this.config.imageTokensPerImage;
    // Each selected state [N, 1 + P, C] loses its CLS row; the list is concatenated on the feature axis.
    const selected = indices.map((i) => ops.narrow(states[i], 1, 1, patches));
    const features = selected.length === 1 ? selected[0] : ops.concat(selected, 2); // [N, P, layers·C]
    return this.model.multi_modal_projector.forward(features); // [N, P, textHidden]
  }

  /** Image features [numImages, patches, textHidden], as transformers' get_image_features(...).pooler_output. */
  async getImageFeatures(pixelValues: Tensor, { visionFeatureLayers }: { visionFeatureLayers?: number | number[] } = {}): Promise<Tensor> {
    const f = this.imageFeatures(pixelValues, visionFeatureLayers);
    return new Tensor('float32', await ops.take(f), f.dims);
  }

  /**
   * Where the image features go, as transformers' get_placeholder_mask: the positions holding the image token
   * (in `inputIds`, or else the rows of `inputsEmbeds` equal to its embedding) → int32 [batch, seq, 1] of 0/1.
   * A count that does not match the features is transformers' error.
   */
  async getPlaceholderMask(inputIds: IntInput | null, inputsEmbeds: Tensor, imageFeatures: Tensor): Promise<Tensor<'int32'>> {
    const [batch, seq, hidden] = inputsEmbeds.dims;
    const rows = inputIds !== null ? this.imageRowsOf(readIntMatrix(inputIds, 'inputIds').data) : await this.imageRowsOfEmbeds(inputsEmbeds);
    this.checkImageCount(rows.length, imageFeatures.dims, imageFeatures.size, hidden);
    const mask = new Int32Array(batch * seq);
    for (const r of rows) mask[r] = 1;
    return new Tensor('int32', mask, [batch, seq, 1]);
  }

  private imageRowsOf(ids: Int32Array): Int32Array {
    const rows: number[] = [];
    ids.forEach((id, i) => id === this.config.image_token_index && rows.push(i));
    return Int32Array.from(rows);
  }

  /** Rows of embeddings [B, S, hidden] equal to the image token's embedding in every element. */
  private async imageRowsOfEmbeds(embeds: Tensor): Promise<Int32Array> {
    const image = this.config.image_token_index;
    const hidden = this.config.text_config.hidden_size;
    if (image >= this.config.text_config.vocab_size) {
      throw new InputError(`inputsEmbeds cannot mark images: the image token (${image}) has no embedding in this checkpoint; pass inputIds`);
    }
    const token = await ops.take(this.model.language_model.embed_tokens.forward(Int32Array.of(image)));
    const data = embeds.toFloat32();
    const rows: number[] = [];
    for (let r = 0; r * hidden < data.length; r++) {
      let same = true;
      for (let j = 0; j < hidden && same; j++) same = data[r * hidden + j] === token[j];
      if (same) rows.push(r);
    }
    return Int32Array.from(rows);
  }

  private checkImageCount(tokens: number, dims: readonly number[], size: number, hidden: number): void {
    if (tokens * hidden !== size) throw new InputError(`Image features and image tokens do not match, tokens: ${tokens}, features: ${dims[0] * dims[1]}`);
  }

  /** Embeds ids (or takes the embeddings given), writes image features over the image tokens, runs the text model. */
  protected hiddenStep(s: StepInputs, imageRows?: Int32Array): DeviceTensor {
    const hidden = this.config.text_config.hidden_size;
    let embeds = s.embeds;
    if (!embeds) {
      // an image token past the vocabulary (the original LLaVA format's) is embedded as id 0, as transformers'
      // Llava does: its rows are replaced by the image features
      const image = this.config.image_token_index;
      const ids = image < this.config.text_config.vocab_size ? s.ids : s.ids.map((id) => (id === image ? 0 : id));
      embeds = this.model.language_model.embed_tokens.forward(ids); // [B·S, hidden]
    }
    if (s.imageFeatures) {
      const rows = imageRows ?? this.imageRowsOf(s.ids);
      const [n, p] = s.imageFeatures.dims;
      this.checkImageCount(rows.length, s.imageFeatures.dims, s.imageFeatures.size, hidden);
      embeds = ops.scatterRows(embeds, rows, ops.reshape(s.imageFeatures, [n * p, hidden]));
    }
    return this.model.language_model.forward(ops.reshape(embeds, [s.batch, s.seq, hidden]), {
      positions: s.positions,
      cache: s.cache,
      pastLength: s.cache?.length ?? 0,
      keyMask: s.keyMask,
      record: s.record,
    }); // [B, S, hidden]
  }

  /** Checks a forward's inputs and puts them on the engine (image features, embeddings, the record's buffers). */
  protected async prepare(inputs: ForwardInputs, logitsToKeep: number): Promise<Prepared & { imageRows?: Int32Array }> {
    const hidden = this.config.text_config.hidden_size;
    if ((inputs.inputIds === undefined) === (inputs.inputsEmbeds === undefined)) throw new InputError('You must specify exactly one of inputIds or inputsEmbeds');
    let batch: number;
    let seq: number;
    let ids: Int32Array;
    let embeds: DeviceTensor | undefined;
    let imageRows: Int32Array | undefined;
    if (inputs.inputsEmbeds !== undefined) {
      const e = inputs.inputsEmbeds;
      if (!(e instanceof Tensor) || e.dims.length !== 3 || e.dims[2] !== hidden) {
        throw new InputError(`inputsEmbeds must be a Tensor [batch, seq, ${hidden}], got ${e instanceof Tensor ? `[${e.dims.join(', ')}]` : typeof e}`);
      }
      [batch, seq] = e.dims;
      ids = new Int32Array(batch * seq);
      if (inputs.pixelValues) imageRows = await this.imageRowsOfEmbeds(e);
      embeds = this.backend.fromHost(e.toFloat32(), [batch * seq, hidden]);
    } else {
      const m = readIntMatrix(inputs.inputIds!, 'inputIds');
      ({ rows: batch, cols: seq, data: ids } = m);
    }
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
    const imageFeatures = inputs.pixelValues ? this.imageFeatures(inputs.pixelValues, inputs.visionFeatureLayers) : null;
    // read now: the step's tidy frees them with the views it makes of them
    const imageHiddenStates = imageFeatures ? new Tensor('float32', await ops.read(imageFeatures), imageFeatures.dims) : undefined;
    const record = this.allocateRecord(inputs, batch, seq, past + seq, cache !== null);
    return { step: { ids, batch, seq, positions, keyMask, cache, imageFeatures, logitsToKeep, embeds, record }, imageHiddenStates, keyMask, pastLength: past, imageRows };
  }

  /** Buffers for what the call asks to see, made outside any tidy scope (the step's tidy then keeps them). */
  private allocateRecord(o: ForwardInputs, batch: number, seq: number, kvLength: number, cached: boolean): ForwardRecord | undefined {
    if (!o.outputHiddenStates && !o.outputAttentions) return undefined;
    const t = this.config.text_config;
    const record: ForwardRecord = {};
    if (o.outputHiddenStates) record.hiddenStates = Array.from({ length: t.num_hidden_layers + 1 }, () => this.backend.zeros([batch, seq, t.hidden_size]));
    if (o.outputAttentions) {
      record.attentions = Array.from({ length: t.num_hidden_layers }, () => ({
        q: this.backend.zeros([batch, seq, t.num_attention_heads * t.head_dim]),
        k: this.backend.zeros([batch, kvLength, t.num_key_value_heads * t.head_dim], cached ? this.kvCacheDtype : 'float32'),
      }));
    }
    return record;
  }

  /** The outputs a forward recorded, read back (and released). */
  protected async readOutputs(p: Prepared): Promise<Pick<VipLlavaModelOutput, 'hiddenStates' | 'attentions' | 'imageHiddenStates'>> {
    const out: Pick<VipLlavaModelOutput, 'hiddenStates' | 'attentions' | 'imageHiddenStates'> = {};
    const r = p.step.record;
    const t = this.config.text_config;
    if (r?.hiddenStates) out.hiddenStates = await Promise.all(r.hiddenStates.map(async (h) => new Tensor('float32', await ops.take(h), h.dims)));
    if (r?.attentions) {
      const { batch, seq } = p.step;
      out.attentions = [];
      for (const { q, k } of r.attentions) {
        const [qs, ks] = [await ops.take(q), await ops.take(k)];
        const shape = { batch, seq, numHeads: t.num_attention_heads, numKvHeads: t.num_key_value_heads, headDim: t.head_dim, kvLength: p.pastLength + seq, kvRows: k.dims[1] };
        out.attentions.push(attentionWeights(qs, ks, { ...shape, pastLength: p.pastLength, keyMask: p.keyMask, slidingWindow: t.sliding_window ?? undefined }));
      }
    }
    if (p.imageHiddenStates) out.imageHiddenStates = p.imageHiddenStates;
    return out;
  }

}

/** VipLlavaModel: the vision tower, the projector and the text model, without an LM head. */
export class VipLlavaModelNetwork extends VipLlavaBaseNetwork {
  /** VipLlavaModel.forward: the final hidden states and, as asked, every hidden state, the attention weights, the image features. */
  async forward(inputs: ForwardInputs): Promise<VipLlavaModelOutput> {
    if (inputs.labels !== undefined) throw new InputError('labels need an LM head: use VipLlavaForConditionalGeneration');
    const p = await this.prepare(inputs, 0);
    const h = ops.tidy(this.model.language_model.norm.weight.value, () => this.hiddenStep(p.step, p.imageRows));
    const lastHiddenState = new Tensor('float32', await ops.take(h), h.dims);
    return { lastHiddenState, ...(await this.readOutputs(p)) };
  }
}

/** VipLlavaForConditionalGeneration: VipLlavaModel and the LM head. */
export class VipLlavaNetwork extends VipLlavaBaseNetwork {
  lm_head: Linear;

  constructor(config: VipLlavaConfig, generationConfig: GenerationConfig, engine: Backend | null, kvCacheDtype: KVDtype = 'float32') {
    super(config, generationConfig, engine, kvCacheDtype);
    this.lm_head = new Linear(config.text_config.hidden_size, config.text_config.vocab_size, false);
  }

  /** Embeds ids, writes image features over the image tokens, runs the text model and lm_head. */
  step(s: StepInputs, imageRows?: Int32Array): DeviceTensor {
    // every intermediate (each layer's output too) released when the step returns: a decode step then reuses the
    // last one's buffers, and nothing waits for the garbage collector
    return ops.tidy(this.lm_head.weight.value, () => {
      let h = this.hiddenStep(s, imageRows);
      if (s.logitsToKeep > 0 && s.logitsToKeep < s.seq) h = ops.narrow(h, 1, s.seq - s.logitsToKeep, s.logitsToKeep);
      return this.lm_head.forward(h); // [B, kept, vocab]
    });
  }

  /** Logits [batch, seq (or logitsToKeep), vocab], with labels the loss, and the outputs asked for. */
  async forward(inputs: ForwardInputs): Promise<VipLlavaCausalLMOutput> {
    const logitsToKeep = inputs.logitsToKeep ?? 0;
    if (!Number.isInteger(logitsToKeep) || logitsToKeep < 0) throw new InputError(`logitsToKeep must be an integer >= 0, got ${logitsToKeep}`);
    if (inputs.labels !== undefined && logitsToKeep !== 0) throw new InputError('labels need the logits of every position; leave logitsToKeep at 0');
    const p = await this.prepare(inputs, logitsToKeep);
    const out = this.step(p.step, p.imageRows);
    const logits = new Tensor('float32', await ops.take(out), out.dims);
    const result: VipLlavaCausalLMOutput = { logits, ...(await this.readOutputs(p)) };
    if (inputs.labels === undefined) return result;
    const { batch, seq } = p.step;
    const labels = readIntMatrix(inputs.labels, 'labels');
    if (labels.rows !== batch || labels.cols !== seq) throw new InputError(`labels must be [${batch}, ${seq}] like inputIds, got [${labels.rows}, ${labels.cols}]`);
    return { ...result, loss: causalLmLoss(logits.data as Float32Array, labels.data, batch, seq, this.config.text_config.vocab_size) };
  }
}
