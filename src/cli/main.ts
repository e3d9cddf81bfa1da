#!/usr/bin/env node
/** The vipllava command: argument parsing and dispatch; each command uses the public API only. */
import { parseArgs } from 'node:util';
import { checkLoadOptions, convertCheckpoint, DEFAULT_MODEL, packageVersion, SYNTHETIC_DATA, VipLlavaForConditionalGeneration, VipLlavaProcessor, type FromPretrainedOptions } from '../index.node.js';
import { chatCommand } from './chat_cmd.js';
import { generateCommand, parseAspect } from './generate_cmd.js';
import { asUsageError, flagOf, GENERATION_FLAGS, GENERATION_HELP, Interrupted, UsageError } from './generation_flags.js';
import { infoCommand } from './info_cmd.js';
import { drawCommand } from './draw_cmd.js';
import { evalCommand } from './eval_cmd.js';
import { VISUAL_PROMPT_FLAGS, VISUAL_PROMPT_HELP } from './visual_prompt_flags.js';
import { progressBar } from './progress_bar.js';
import { SERVE_FLAGS, SERVE_HELP, serveCommand } from './serve_cmd.js';
import { BATCH_FLAGS, BATCH_HELP, batchCommand, workerCommand } from './batch_cmd.js';
import { VIPBENCH_FLAGS, VIPBENCH_HELP, vipbenchCommand } from './vipbench_cmd.js';

const USAGE = `usage:
  vipllava generate [--model <dir|hub-id>] [--image <file> ...] --prompt "<question>" [options]
  vipllava chat [--model <dir|hub-id>] [--image <file> ...] [options]
  vipllava draw --image <file> --box x1,y1,x2,y2 [--shape arrow] [--color red] -o <out.png>
  vipllava info [--model <dir|hub-id>]
  vipllava eval [--model <dir|hub-id>] [--limit N] [--data <dir>] [--batch-size N] [--json]
  vipllava serve [--model <dir|hub-id>] [--host 127.0.0.1] [--port 8080] [serve options]
  vipllava batch --data <dataset> --out answers.jsonl [--batch-size N] [--queue redis://…] [options]
  vipllava worker --queue redis://host:port [--batch-size N] [--model <dir|hub-id>]
  vipllava vipbench --data <ViP-Bench dir> --split bbox|human --out answers.json [--judge URL --judge-model M]
  vipllava download <hub-id>
  vipllava convert --model <dir|hub-id> --out <dir> [--max-shard-gb 5] [--vision-tower <dir|hub-id>]
                            any checkpoint this reads (safetensors in any key layout, PyTorch .bin) written in the
                            hub's safetensors layout; an original ViP-LLaVA checkpoint (mucai/vip-llava-*) becomes a
                            complete llava-hf one (its vision tower, <image> and <pad> tokens, processor files)

--model defaults to the small model shipped with the package (models/vip-llava-synthetic), trained on a
synthetic world of coloured shapes; it knows nothing else. eval answers the held-out questions of that
world (data/synthetic) and reports accuracy per question type and prompt shape next to transformers'.

generate and chat options:
  --image FILE              an image (PNG, JPEG, WebP, GIF, TIFF, BMP); repeat for several
  --system TEXT             a system message
  --template hub|llava_v1   chat format (default: the checkpoint's template, else hub)
  --image-aspect-ratio crop|pad
                            crop: centre crop as the hub processor does (default without visual prompts);
                            pad: pad to a square first, as ViP-LLaVA was trained (default with them)
  --json                    (generate) print {"answer", "prompt", "new_ids", "finish_reason"}
${GENERATION_HELP}
${VISUAL_PROMPT_HELP}
${SERVE_HELP}
${BATCH_HELP}
${VIPBENCH_HELP}
engine options (generate, chat, eval, serve):
  --dtype auto|float32|float16|bfloat16|q8_0|q4_0
                            weights at run time: auto keeps the checkpoint's (fp32 compute); bfloat16 computes
                            linear layers in bf16; q8_0 / q4_0 quantise the language model (native, webgpu)
  --quantize-vision         with q8_0 / q4_0, quantise the vision tower and projector too
  --kv-cache float32|float16
                            how the KV cache holds keys and values (default float32; float16 halves it)
  --engine auto|native|reference
                            native: the compiled SIMD engine (default when built); reference: plain TypeScript
  --device cpu|webgpu       webgpu: the GPU through WebGPU (Dawn; float32/float16/bfloat16 weights);
                            $VIPLLAVA_WEBGPU_BACKEND=vulkan|opengles picks Dawn's backend (default: the first that works)
  --threads N               compute threads of the native engine (default: physical cores)

common options:
  --revision R              hub branch, tag or commit (default main)
  --offline                 use only local folders and the Hugging Face cache
  --vision-tower DIR|ID     where an original ViP-LLaVA checkpoint's vision tower is read from (default: the hub
                            id its config names, openai/clip-vit-large-patch14-336)
  --verbose                 print stack traces
  --version                 print the version
environment: HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE`;

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        image: { type: 'string', multiple: true },
        prompt: { type: 'string' },
        system: { type: 'string' },
        template: { type: 'string' },
        'image-aspect-ratio': { type: 'string' },
        revision: { type: 'string' },
        json: { type: 'boolean', default: false },
        offline: { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        output: { type: 'string', short: 'o' },
        limit: { type: 'string' },
        dtype: { type: 'string' },
        engine: { type: 'string' },
        device: { type: 'string' },
        threads: { type: 'string' },
        'quantize-vision': { type: 'boolean', default: false },
        'kv-cache': { type: 'string' },
        data: { type: 'string' },
        'max-shard-gb': { type: 'string' },
        'vision-tower': { type: 'string' },
        version: { type: 'boolean', default: false },
        ...GENERATION_FLAGS,
        ...VISUAL_PROMPT_FLAGS,
        ...SERVE_FLAGS,
        ...BATCH_FLAGS,
        ...VIPBENCH_FLAGS,
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message); // an unknown flag, a flag without its value
  }
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  const [command, ...rest] = positionals;
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.version) {
    console.log(packageVersion());
    return;
  }
  if (!command) {
    console.error(USAGE);
    process.exitCode = 2;
    return;
  }
  const takes = command === 'download' ? 1 : 0;
  if (rest.length > takes) throw new UsageError(`unexpected argument "${rest[takes]}" (${command} takes ${takes === 0 ? 'none' : 'one, the hub id'}; quote a prompt with spaces)`);
  const hub = {
    revision: values.revision,
    localFilesOnly: values.offline || undefined,
    visionTower: values['vision-tower'],
    onProgress: progressBar(),
    ...engineOptions(values),
  };
  const model = () => values.model ?? DEFAULT_MODEL;
  const common = () => ({
    model: model(),
    images: values.image ?? [],
    system: values.system,
    template: values.template,
    aspect: parseAspect(values['image-aspect-ratio']),
    flags: values,
    hub,
  });

  switch (command) {
    case 'generate':
      if (values.prompt === undefined) throw new UsageError('generate needs --prompt "<question>"');
      return generateCommand({ ...common(), prompt: values.prompt, json: values.json });
    case 'chat':
      return chatCommand(common());
    case 'draw':
      console.log(await drawCommand(values.image?.[0], values.output, values));
      return;
    case 'eval': {
      const limit = values.limit === undefined ? undefined : Number(values.limit);
      if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) throw new UsageError(`--limit must be a positive integer, got "${values.limit}"`);
      const batchSize = values['batch-size'] === undefined ? undefined : Number(values['batch-size']);
      if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize >= 1)) throw new UsageError(`--batch-size must be a positive integer, got "${values['batch-size']}"`);
      return evalCommand({ model: model(), data: values.data ?? SYNTHETIC_DATA, limit, batchSize, json: values.json, hub });
    }
    case 'info':
      console.log(await infoCommand(model(), hub));
      return;
    case 'serve':
      return serveCommand(model(), hub, values);
    case 'batch':
      return batchCommand(model(), hub, values);
    case 'worker':
      return workerCommand(model(), hub, values);
    case 'vipbench':
      return vipbenchCommand(model(), hub, values);
    case 'convert': {
      if (!values.model || !values.out) throw new UsageError('convert needs --model <dir|hub-id> and --out <dir>');
      const gb = values['max-shard-gb'] === undefined ? 5 : Number(values['max-shard-gb']);
      if (!(gb > 0)) throw new UsageError(`--max-shard-gb must be a positive number, got "${values['max-shard-gb']}"`);
      const r = await convertCheckpoint(values.model, values.out, { ...hub, maxShardBytes: gb * 1e9 });
      console.log(`${r.tensors} tensors, ${(r.bytes / 1e6).toFixed(1)} MB in ${r.shards.length} shard${r.shards.length > 1 ? 's' : ''} at ${values.out}`);
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

/** --dtype, --engine, --device, --threads, --quantize-vision and --kv-cache as fromPretrained options, checked by the library (errors name the flags). */
function engineOptions(values: { dtype?: string; engine?: string; device?: string; threads?: string; 'quantize-vision'?: boolean; 'kv-cache'?: string }): FromPretrainedOptions {
  const options = {
    dtype: values.dtype,
    engine: values.engine,
    device: values.device,
    threads: values.threads === undefined || Number.isNaN(Number(values.threads)) ? values.threads : Number(values.threads), // "abc" is refused as given
    quantizeVision: values['quantize-vision'] || undefined,
    kvCacheDtype: values['kv-cache'],
  } as FromPretrainedOptions;
  try {
    return checkLoadOptions(options, flagOf);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

// A reader that closes the pipe (`vipllava generate … | head`) ends the command quietly, as cat does.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const argv = process.argv.slice(2);
main(argv).catch((e: unknown) => {
  const err = e as Error;
  if (e instanceof Interrupted) {
    console.error('vipllava: interrupted');
    process.exit(130);
  }
  const usage = e instanceof UsageError ? e : asUsageError(e);
  if (usage) {
    console.error(`vipllava: ${usage.message}`);
    console.error('run "vipllava --help" for usage');
    process.exit(2);
  }
  if (argv.includes('--verbose')) console.error(err.stack);
  else console.error(`vipllava: ${err.message}`);
  process.exit(1);
});
