#!/usr/bin/env node
/**
 * The vipllava command. Thin: it parses arguments and calls the public API.
 */
import { parseArgs } from 'node:util';
import {
  Snapshot, VipLlavaConfig, VipLlavaForConditionalGeneration, VipLlavaProcessor,
  type ChatMessage, type ContentPart,
} from '../index.js';
import { progressBar } from './progress_bar.js';

const USAGE = `usage:
  vipllava generate --model <dir|hub-id> [--image <file> ...] --prompt "<question>" [options]
  vipllava info --model <dir|hub-id>
  vipllava download <hub-id>

generate options:
  --image FILE              an image (PNG, JPEG, WebP, GIF, TIFF, BMP); repeat for several
  --system TEXT             a system message
  --template hub|llava_v1   chat format (default: the checkpoint's template, else hub)
  --image-aspect-ratio crop|pad
                            crop: centre crop as the hub processor does (default);
                            pad: pad to a square first, as ViP-LLaVA was trained
  --max-new-tokens N        default 64
  --json                    print {"answer", "prompt", "new_ids"} as JSON
common options:
  --revision R              hub branch, tag or commit (default main)
  --offline                 use only local folders and the Hugging Face cache
  --verbose                 print stack traces
environment: HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      image: { type: 'string', multiple: true },
      prompt: { type: 'string' },
      system: { type: 'string' },
      template: { type: 'string' },
      'image-aspect-ratio': { type: 'string' },
      'max-new-tokens': { type: 'string' },
      revision: { type: 'string' },
      json: { type: 'boolean', default: false },
      offline: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  const hub = { revision: values.revision, localFilesOnly: values.offline || undefined, onProgress: progressBar() };
  const model = () => {
    if (!values.model) throw new UsageError(`${command} needs --model <dir|hub-id>`);
    return values.model;
  };

  switch (command) {
    case 'generate': {
      if (values.prompt === undefined) throw new UsageError('generate needs --prompt "<question>"');
      const maxNewTokens = Number(values['max-new-tokens'] ?? 64);
      if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new UsageError(`--max-new-tokens must be a positive integer, got "${values['max-new-tokens']}"`);
      const aspect = values['image-aspect-ratio'] ?? 'crop';
      if (aspect !== 'crop' && aspect !== 'pad') throw new UsageError(`--image-aspect-ratio must be crop or pad, got "${aspect}"`);
      const images = values.image ?? [];
      const processor = await VipLlavaProcessor.fromPretrained(model(), hub);
      const m = await VipLlavaForConditionalGeneration.fromPretrained(model(), hub);
      const messages: ChatMessage[] = [];
      if (values.system !== undefined) messages.push({ role: 'system', content: [{ type: 'text', text: values.system }] });
      const content: ContentPart[] = [...images.map(() => ({ type: 'image' as const })), { type: 'text', text: values.prompt }];
      messages.push({ role: 'user', content });
      const prompt = processor.applyChatTemplate(messages, { addGenerationPrompt: true, template: values.template });
      const inputs = await processor.process({ text: prompt, images, imageAspectRatio: aspect });
      const out = await m.generate({ ...inputs, maxNewTokens });
      const promptLength = inputs.inputIds.dims[1];
      const newIds = (out.tolist() as number[][])[0].slice(promptLength);
      const answer = processor.tokenizer.decode(newIds, { skipSpecialTokens: true });
      console.log(values.json ? JSON.stringify({ answer, prompt, new_ids: newIds }) : answer);
      return;
    }
    case 'info': {
      const snapshot = Snapshot.open(model(), hub);
      const c = await VipLlavaConfig.fromPretrained(model(), hub);
      const v = c.vision_config;
      const t = c.text_config;
      const params = [...VipLlavaForConditionalGeneration.parameterShapes(c).values()].reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
      const index = await snapshot.optionalFile('model.safetensors.index.json');
      const lines = [
        `checkpoint     ${snapshot.directory ?? model()}`,
        `vision         CLIP, ${v.num_hidden_layers} layers, hidden ${v.hidden_size}, ${v.image_size}px / patch ${v.patch_size} → ${c.imageTokensPerImage} image tokens`,
        `feature layers ${JSON.stringify(c.vision_feature_layers)} → projector ${c.projectorInputSize} → ${t.hidden_size}`,
        `text           ${t.model_type}, ${t.num_hidden_layers} layers, hidden ${t.hidden_size}, heads ${t.num_attention_heads}/${t.num_key_value_heads} kv, vocab ${t.vocab_size}, rope ${t.rope_parameters.rope_type} θ=${t.rope_parameters.rope_theta}${t.sliding_window ? `, sliding window ${t.sliding_window}` : ''}`,
        `parameters     ${(params / 1e6).toFixed(2)} M (${c.dtype ?? 'dtype not stated'}), weights in ${index ? 'shards (model.safetensors.index.json)' : 'model.safetensors'}`,
      ];
      if (await snapshot.optionalFile('tokenizer.json')) {
        const p = await VipLlavaProcessor.fromPretrained(model(), hub);
        const ic = p.imageProcessor.config;
        const size = 'shortest_edge' in ic.size ? `shortest edge ${ic.size.shortest_edge}` : `${ic.size.height}×${ic.size.width}`;
        lines.push(
          `processor      resize ${size}, ${ic.do_center_crop ? `crop ${ic.crop_size.height}×${ic.crop_size.width}` : 'no crop'}, ${p.settings.imageTokensPerImage} ${p.settings.imageToken} tokens per image`,
          `tokenizer      ${p.tokenizer.vocabSize} tokens, bos ${p.tokenizer.bosTokenId}, eos ${p.tokenizer.eosTokenId}, pad ${p.tokenizer.padTokenId}`,
          `chat template  ${p.settings.chatTemplate ? p.settings.chatTemplate.source : 'none (the built-in hub template is used)'}`,
        );
      } else {
        lines.push('processor      none (no tokenizer.json)');
      }
      console.log(lines.join('\n'));
      return;
    }
    case 'download': {
      const id = rest[0] ?? values.model;
      if (!id) throw new UsageError('download needs a hub id, e.g. vipllava download llava-hf/vip-llava-7b-hf');
      await VipLlavaProcessor.fromPretrained(id, hub).catch(() => undefined); // tokenizer and processor files, if any
      const m = await VipLlavaForConditionalGeneration.fromPretrained(id, hub);
      console.log(`ready: ${id} (${m.config.text_config.num_hidden_layers}-layer ${m.config.text_config.model_type})`);
      return;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

const argv = process.argv.slice(2);
main(argv).catch((e: unknown) => {
  const err = e as Error;
  if (argv.includes('--verbose')) console.error(err.stack);
  else console.error(`vipllava: ${err.message}`);
  if (e instanceof UsageError) console.error('run "vipllava --help" for usage');
  process.exit(e instanceof UsageError ? 2 : 1);
});
