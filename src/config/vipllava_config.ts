import { ACTIVATIONS, type Activation, type FloatDtype } from '../vocabulary.js';
import { ConfigError, InputError } from '../errors.js';
import { CLIP_VIT_L_14_336, numPatches, parseClipVisionConfig, type ClipVisionConfig } from './clip_vision_config.js';
import { Fields, isObject, readDtype, show } from './fields.js';
import { parseTextConfig, type TextConfig } from './text_config.js';

/**
 * VipLlavaConfig with nested CLIP vision and Llama/Mistral text configs. Field names are transformers' JSON
 * keys; every field a hub config.json leaves out gets transformers' class default.
 */
export class VipLlavaConfig {
  readonly model_type = 'vipllava';
  vision_config: ClipVisionConfig;
  text_config: TextConfig;
  image_token_index: number;
  projector_hidden_act: Activation;
  projector_layernorm_eps: number;
  /** As written: an int selects one layer, a list concatenates several. */
  vision_feature_layers: number | number[];
  image_seq_length: number;
  pad_token_id: number | null;
  dtype: FloatDtype | null;

  private constructor(f: Fields) {
    if (!f.has('model_type')) f.fail('model_type', 'is missing (expected "vipllava")');
    f.oneOf('model_type', 'vipllava', ['vipllava']);
    const vision = f.sub('vision_config');
    this.vision_config = vision ? parseClipVisionConfig(vision) : { ...CLIP_VIT_L_14_336 };
    this.text_config = parseTextConfig(f.sub('text_config') ?? new Fields({}, 'text_config.', f.source));
    this.image_token_index = f.int('image_token_index', f.int('image_token_id', 32000), { min: 0 });
    this.projector_hidden_act = f.oneOf('projector_hidden_act', 'gelu', ACTIVATIONS);
    this.projector_layernorm_eps = f.num('projector_layernorm_eps', 1e-5, { positive: true });
    this.image_seq_length = f.int('image_seq_length', 576);
    this.pad_token_id = f.has('pad_token_id') ? f.int('pad_token_id', 0) : null;
    this.dtype = readDtype(f);
    if (f.bool('tie_word_embeddings', false)) {
      f.fail('tie_word_embeddings', 'is true, which VipLlava checkpoints never use and this library does not support');
    }

    const layers = f.obj.vision_feature_layers ?? [-2, -5, -8, -11, 6];
    const list = Array.isArray(layers) ? layers : [layers];
    if (list.length === 0 || !list.every((v) => typeof v === 'number' && Number.isInteger(v))) {
      f.fail('vision_feature_layers', `must be an integer or a non-empty list of integers, got ${show(layers)}`);
    }
    const n = this.vision_config.num_hidden_layers;
    for (const v of list as number[]) {
      // hidden_states has n + 1 entries (embeddings, then each layer); Python indexing.
      if (v > n || v < -(n + 1)) {
        f.fail('vision_feature_layers', `entry ${v} is out of range for ${n} vision layers (valid: ${-(n + 1)}..${n})`);
      }
    }
    this.vision_feature_layers = layers as number | number[];
  }

  /** Parses a config.json object. `source` names the file in error messages. */
  static fromDict(json: unknown, source = 'config.json'): VipLlavaConfig {
    if (!isObject(json)) throw new ConfigError(`${source}: expected a JSON object`);
    return new VipLlavaConfig(new Fields(json, '', source));
  }

  /** Indices into the vision tower's hidden_states tuple (0 = embeddings), in list order. */
  get featureLayerIndices(): number[] {
    return this.featureLayerIndicesOf(this.vision_feature_layers);
  }

  /**
   * The hidden-state indices of other feature layers (a call's `visionFeatureLayers`): as many as the projector
   * takes, each in range; `what` names them in errors.
   */
  featureLayerIndicesOf(layers: number | number[], what = 'vision_feature_layers'): number[] {
    const list = Array.isArray(layers) ? layers : [layers];
    const n = this.vision_config.num_hidden_layers;
    const wanted = Array.isArray(this.vision_feature_layers) ? this.vision_feature_layers.length : 1;
    if (list.length !== wanted || !list.every((v) => Number.isInteger(v) && v <= n && v >= -(n + 1))) {
      throw new InputError(`${what} must be ${wanted === 1 ? 'one layer' : `${wanted} layers`} (the projector takes ${wanted} × ${this.vision_config.hidden_size} features) in ${-(n + 1)}..${n}, got ${JSON.stringify(layers)}`);
    }
    return list.map((v) => (v < 0 ? n + 1 + v : v));
  }

  /** Number of vision layers to run: the deepest selected hidden state. */
  get visionLayersNeeded(): number {
    return Math.max(...this.featureLayerIndices);
  }

  /** Image features per image (patches; CLS dropped). */
  get imageTokensPerImage(): number {
    return numPatches(this.vision_config);
  }

  /** Width of the projector input: one vision hidden size per selected layer. */
  get projectorInputSize(): number {
    const n = Array.isArray(this.vision_feature_layers) ? this.vision_feature_layers.length : 1;
    return n * this.vision_config.hidden_size;
  }
}
