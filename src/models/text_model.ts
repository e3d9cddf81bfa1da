/** The text backbone a config names (text_config.model_type): the one place that picks it. */
import type { TextConfig } from '../config/text_config.js';
import type { DecoderModel } from './decoder.js';
import { LlamaModel } from './llama.js';
import { Phi3Model } from './phi3.js';

export type TextModel = DecoderModel;

export function createTextModel(c: TextConfig): TextModel {
  switch (c.model_type) {
    case 'llama':
    case 'mistral':
      return new LlamaModel(c);
    case 'phi3':
      return new Phi3Model(c);
  }
}
