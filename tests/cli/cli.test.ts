import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, TINY_LLAMA, TINY_MISTRAL } from '../helpers/fixtures.js';
import { generateGoldens, image } from '../helpers/processor_goldens.js';
import { tempDir } from '../helpers/checkpoints.js';
import { nativeAddon } from '../../src/backend/cpu/native_addon.node.js';
import { HubServer } from '../helpers/hub_server.js';

const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

/** Runs the CLI asynchronously (the hub server in this process must keep answering). */
async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  return new Promise((ok) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => ok({ code: code ?? -1, stdout, stderr }));
  });
}

describe('vipllava CLI', () => {
  test('generate answers a question about an image with the tokens transformers generates', async () => {
    const goldens = generateGoldens();
    for (const [name, dir] of [['tiny-llama', TINY_LLAMA], ['tiny-mistral', TINY_MISTRAL]] as const) {
      const g = goldens[name];
      const r = await run(['generate', '--model', dir, '--image', image(g.image), '--prompt', 'What is inside the red box?', '--max-new-tokens', '12', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { answer: g.answer, prompt: g.prompt, new_ids: g.new_ids, finish_reason: 'length' });
    }
    const plain = await run(['generate', '--model', TINY_LLAMA, '--image', image('demo.png'), '--prompt', 'What is inside the red box?', '--max-new-tokens', '12']);
    assert.equal(plain.stdout, `${goldens['tiny-llama'].answer}\n`);
  });

  test('generate with the llava_v1 template, a system message and pad mode', async () => {
    const r = await run(['generate', '--model', TINY_LLAMA, '--image', image('wide.png'), '--prompt', 'Describe it.', '--template', 'llava_v1',
      '--system', 'Be brief.', '--image-aspect-ratio', 'pad', '--max-new-tokens', '3', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.prompt, 'Be brief. USER: <image>\nDescribe it. ASSISTANT:');
    assert.equal(out.new_ids.length, 3);
    const textOnly = await run(['generate', '--model', TINY_MISTRAL, '--prompt', 'Hello', '--max-new-tokens', '2', '--json']);
    assert.equal(JSON.parse(textOnly.stdout).prompt, '###Human: Hello###Assistant:');
  });

  test('info summarises the checkpoint', async () => {
    const r = await run(['info', '--model', TINY_LLAMA]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /vision\s+CLIP, 12 layers, hidden 32, 56px \/ patch 14 → 16 image tokens/);
    assert.match(r.stdout, /text\s+llama, 2 layers, hidden 64, heads 4\/2 kv, vocab 32064/);
    assert.match(r.stdout, /processor\s+resize shortest edge 56, crop 56×56, 16 <image> tokens per image/);
    assert.match(r.stdout, /chat template\s+.*tiny-llama\/chat_template\.json/);
    const webgpu = process.env.VIPLLAVA_DEVICE === 'webgpu';
    const isa = process.env.VIPLLAVA_ENGINE === 'reference' || webgpu ? null : nativeAddon()?.info().isa;
    const engine = webgpu ? /engine\s+webgpu \(Dawn (vulkan|opengles), .+; WGSL kernels/ : isa ? new RegExp(`engine\\s+native, ${isa} kernels \\(.+\\), \\d+ threads; bfloat16: `) : /engine\s+reference/;
    assert.match(r.stdout, engine);
    if (isa) {
      const forced = await run(['info', '--model', TINY_LLAMA], { VIPLLAVA_ISA: 'portable' });
      assert.match(forced.stdout, /engine\s+native, portable kernels \(plain C\+\+.*\), \d+ threads; bfloat16: fp32 compute from bf16 storage/);
    }
  });

  test('exit codes: 0 done, 1 the run failed, 2 the command line is wrong (whoever noticed), with the flag named', async () => {
    const version = await run(['--version']);
    assert.equal(version.code, 0);
    assert.equal(version.stdout.trim(), (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    const none = await run([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^usage:/);
    const ask = ['generate', '--model', TINY_LLAMA, '--prompt', 'hi'];
    const cases: Array<[string[], RegExp]> = [
      [['generate', '--model', TINY_LLAMA, '--promt', 'hi'], /^vipllava: Unknown option '--promt'/],
      [[...ask, 'extra'], /^vipllava: unexpected argument "extra" \(generate takes none; quote a prompt with spaces\)/],
      [[...ask, '--max-new-tokens', '0'], /^vipllava: --max-new-tokens must be a positive integer, got 0$/m],
      [[...ask, '--max-new-tokens', '1e9'], /need \d+ positions, but the model takes at most 4096 positions \(max_position_embeddings\); lower --max-new-tokens to \d+ or less/],
      [[...ask, '--do-sample', '--top-p', '1.5'], /^vipllava: --top-p must be in \[0, 1\], got 1.5$/m],
      [[...ask, '--do-sample', '--temperature', '0'], /^vipllava: --temperature must be > 0 when sampling/m],
      [['generate', '--model', TINY_LLAMA, '--image', image('demo.png'), '--prompt', '<image> what is it?'], /the prompt contains "<image>"; leave it out/],
      [['generate', '--model', TINY_LLAMA, '--image', image('demo.png'), '--prompt', 'x', '--box', '1,1,50,50', '--shape', 'arrow', '--shape', 'ellipse'], /2 --shapes for 1 region/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /run "vipllava --help" for usage\n$/);
    }
    // Flags and images that need no model are checked before one loads: here the checkpoint does not even exist.
    const early: Array<[string[], number, RegExp]> = [
      [['--do-sample', '--top-p', '2'], 2, /^vipllava: --top-p must be in \[0, 1\], got 2$/m],
      [['--num-beams', '2', '--repetition-penalty', '0'], 2, /^vipllava: --repetition-penalty must be > 0, got 0$/m],
      [['--max-time=-1'], 2, /^vipllava: --max-time must be > 0 seconds, got -1$/m],
      [['--image', '/tmp/no-such-image.png'], 1, /^vipllava: \/tmp\/no-such-image.png: cannot read image \(ENOENT\)$/m],
    ];
    for (const [flags, code, message] of early) {
      const r = await run(['generate', '--model', '/no/such/checkpoint', '--prompt', 'hi', ...flags]);
      assert.equal(r.code, code, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const chat = await run(['chat', '--model', '/no/such/checkpoint', '--top-k=-3']);
    assert.equal(chat.code, 2);
    assert.match(chat.stderr, /^vipllava: --top-k must be an integer >= 0, got -3$/m);
  });

  test('errors are one line with a non-zero exit; --verbose adds the stack', async () => {
    const r = await run(['generate', '--model', '/no/such/checkpoint', '--prompt', 'hi']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'vipllava: no checkpoint folder at /no/such/checkpoint\n');
    const missing = await run(['generate', '--model', TINY_LLAMA, '--image', '/tmp/no-such-image.png', '--prompt', 'hi']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'vipllava: /tmp/no-such-image.png: cannot read image (ENOENT)\n');
    const notImage = await run(['generate', '--model', TINY_LLAMA, '--image', join(TINY_LLAMA, 'config.json'), '--prompt', 'hi']);
    assert.match(notImage.stderr, /^vipllava: .*config\.json: not a supported image/);
    const usage = await run(['generate', '--model', TINY_LLAMA]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^vipllava: generate needs --prompt/);
    const aspect = await run(['generate', '--model', TINY_LLAMA, '--prompt', 'x', '--image-aspect-ratio', 'fit']);
    assert.match(aspect.stderr, /--image-aspect-ratio must be crop or pad, got "fit"/);
    const verbose = await run(['generate', '--model', TINY_LLAMA, '--prompt', 'x', '--template', 'chatml', '--verbose']);
    assert.equal(verbose.code, 1);
    assert.match(verbose.stderr, /InputError: unknown chat template "chatml".*\n\s+at /);
    const unknown = spawnSync(process.execPath, [CLI, 'frobnicate'], { encoding: 'utf8' });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });

  describe('download', () => {
    let server: HubServer;
    before(async () => {
      server = await HubServer.start([{ id: 'llava-hf/vip-llava-tiny', commit: 'c'.repeat(40), folder: TINY_LLAMA }]);
    });
    after(() => server.close());

    test('fetches a hub checkpoint into $HF_HOME', async () => {
      const home = tempDir('cli-home');
      const env = { HF_HOME: home, HF_ENDPOINT: server.url, HF_HUB_CACHE: '' };
      const r = await run(['download', 'llava-hf/vip-llava-tiny'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /ready: llava-hf\/vip-llava-tiny/);
      const offline = await run(['info', '--model', 'llava-hf/vip-llava-tiny', '--offline'], env);
      assert.equal(offline.code, 0, offline.stderr);
      assert.match(offline.stdout, new RegExp(`checkpoint\\s+${join(home, 'hub')}`));
    });
  });
});

test('the progress bar draws on a terminal and stays silent otherwise', async () => {
  const { progressBar } = await import('../../src/cli/progress_bar.js');
  const written: string[] = [];
  const tty = { isTTY: true, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
  const bar = progressBar(tty);
  bar({ stage: 'download', file: 'model.safetensors', loaded: 0, total: 2 * 1024 * 1024 });
  bar({ stage: 'download', file: 'model.safetensors', loaded: 2 * 1024 * 1024, total: 2 * 1024 * 1024 });
  assert.match(written[0], /^\r░{30}\s+0% 0\.0\/2\.0 MB downloading model\.safetensors/);
  assert.match(written[1], /^\r█{30} 100% 2\.0\/2\.0 MB downloading model\.safetensors/);
  assert.equal(written[2], '\n');
  const silent: string[] = [];
  progressBar({ isTTY: false, write: (s: string) => silent.push(s) } as unknown as NodeJS.WriteStream)({ stage: 'load', file: 'x', loaded: 1, total: 1 });
  assert.equal(silent.length, 0);
});
