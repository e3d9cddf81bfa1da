/** `vipllava info`: what a checkpoint holds, without loading its weights, and the engine that would run it. */
import { createBackend, loadConfig, unavailableEngines, openCheckpoint, VipLlavaForConditionalGeneration, VipLlavaProcessor, type FromPretrainedOptions } from '../index.node.js';

/** The engine a load with these options would run on (its kernel set and what bfloat16 computes with), and why others cannot. */
async function engineLine(options: FromPretrainedOptions): Promise<string> {
  const missing = [...unavailableEngines('cpu'), ...unavailableEngines('webgpu')].map(({ name, why }) => `; ${name} engine not available: ${why}`);
  return `engine         ${(await createBackend(options)).describe()}${missing.join('')}`;
}

export async function infoCommand(model: string, hub: FromPretrainedOptions): Promise<string> {
  const snapshot = openCheckpoint(model, hub);
  const c = await loadConfig(snapshot, hub);
  const v = c.vision_config;
  const t = c.text_config;
  const params = [...VipLlavaForConditionalGeneration.parameterShapes(c).values()].reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
  const index = (await snapshot.optionalFile('model.safetensors.index.json')) ? 'model.safetensors.index.json' : (await snapshot.optionalFile('pytorch_model.bin.index.json')) ? 'pytorch_model.bin.index.json' : null;
  const lines = [
    `checkpoint     ${snapshot.directory ?? model}`,
    `vision         CLIP, ${v.num_hidden_layers} layers, hidden ${v.hidden_size}, ${v.image_size}px / patch ${v.patch_size} → ${c.imageTokensPerImage} image tokens`,
    `feature layers ${JSON.stringify(c.vision_feature_layers)} → projector ${c.projectorInputSize} → ${t.hidden_size}`,
    `text           ${t.model_type}, ${t.num_hidden_layers} layers, hidden ${t.hidden_size}, heads ${t.num_attention_heads}/${t.num_key_value_heads} kv, vocab ${t.vocab_size}, rope ${t.rope_parameters.rope_type} θ=${t.rope_parameters.rope_theta}${t.sliding_window ? `, sliding window ${t.sliding_window}` : ''}`,
    `parameters     ${(params / 1e6).toFixed(2)} M (${c.dtype ?? 'dtype not stated'}), weights in ${index ? `shards (${index})` : 'one file'}`,
    await engineLine(hub),
  ];
  if ((await snapshot.optionalFile('tokenizer.json')) ?? (await snapshot.optionalFile('tokenizer.model'))) {
    const p = await VipLlavaProcessor.fromPretrained(model, hub);
    const ic = p.imageProcessor.config;
    const size = 'shortest_edge' in ic.size ? `shortest edge ${ic.size.shortest_edge}` : `${ic.size.height}×${ic.size.width}`;
    lines.push(
      `processor      resize ${size}, ${ic.do_center_crop ? `crop ${ic.crop_size.height}×${ic.crop_size.width}` : 'no crop'}, ${p.imageTokensPerImage} ${p.settings.imageToken} tokens per image`,
      `tokenizer      ${p.tokenizer.vocabSize} tokens, bos ${p.tokenizer.bosTokenId}, eos ${p.tokenizer.eosTokenId}, pad ${p.tokenizer.padTokenId}`,
      `chat template  ${p.settings.chatTemplate ? p.settings.chatTemplate.source : 'none (the built-in hub template is used)'}`,
    );
  } else {
    lines.push('processor      none (no tokenizer.json)');
  }
  return lines.join('\n');
}
