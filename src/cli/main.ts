#!/usr/bin/env node
/**
 * The vipllava command. Thin: it parses arguments and calls the public API.
 *
 *   vipllava generate --model <dir|hub-id> --input-ids 1,450,... [--max-new-tokens N] [--json]
 *   vipllava info --model <dir|hub-id>
 *   vipllava download <hub-id> [--revision R]
 */
import { parseArgs } from 'node:util';
import { Snapshot, VipLlavaConfig, VipLlavaForConditionalGeneration, SafetensorsFile } from '../index.js';
import { progressBar } from './progress_bar.js';

const USAGE = `usage:
  vipllava generate --model <dir|hub-id> --input-ids <id,id,...> [--max-new-tokens N] [--json]
  vipllava info --model <dir|hub-id>
  vipllava download <hub-id> [--revision R]

options:
  --revision R      hub branch, tag or commit (default main)
  --offline         use only local folders and the Hugging Face cache
  --verbose         print stack traces
environment: HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      'input-ids': { type: 'string' },
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
      const raw = values['input-ids'];
      if (!raw) throw new UsageError('generate needs --input-ids (comma-separated token ids; prompts and images come with the processor)');
      const ids = raw.split(',').map((s) => {
        const n = Number(s.trim());
        if (!Number.isInteger(n) || n < 0) throw new UsageError(`--input-ids: "${s}" is not a token id`);
        return n;
      });
      const maxNewTokens = values['max-new-tokens'] === undefined ? undefined : Number(values['max-new-tokens']);
      if (maxNewTokens !== undefined && (!Number.isInteger(maxNewTokens) || maxNewTokens < 1)) {
        throw new UsageError(`--max-new-tokens must be a positive integer, got "${values['max-new-tokens']}"`);
      }
      const m = await VipLlavaForConditionalGeneration.fromPretrained(model(), hub);
      const out = (await m.generate({ inputIds: [ids], maxNewTokens })).tolist() as number[][];
      const generated = out[0].slice(ids.length);
      console.log(values.json ? JSON.stringify({ input_ids: ids, generated_ids: generated }) : generated.join(' '));
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
        `parameters     ${(params / 1e6).toFixed(2)} M (${c.dtype ?? 'dtype not stated'})`,
        `weights        ${index ? 'sharded (model.safetensors.index.json)' : 'model.safetensors'}`,
      ];
      if (snapshot.directory && !index) {
        const f = await SafetensorsFile.open(await snapshot.file('model.safetensors'));
        lines.push(`tensors        ${f.entries.size}`);
        await f.close();
      }
      console.log(lines.join('\n'));
      return;
    }
    case 'download': {
      const id = rest[0] ?? values.model;
      if (!id) throw new UsageError('download needs a hub id, e.g. vipllava download llava-hf/vip-llava-7b-hf');
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
  if (e instanceof UsageError) console.error(`run "vipllava --help" for usage`);
  process.exit(e instanceof UsageError ? 2 : 1);
});
