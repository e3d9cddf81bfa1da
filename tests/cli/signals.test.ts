/** The CLI and its readers: a closed pipe ends the command quietly; Ctrl-C keeps what was produced and exits 130. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ROOT, TINY_LLAMA } from '../helpers/fixtures.js';
import { image } from '../helpers/processor_goldens.js';

const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
// A long answer on the slow engine, so there is time to act while it is written.
const LONG = ['generate', '--model', TINY_LLAMA, '--image', image('demo.png'), '--prompt', 'Describe it.', '--template', 'llava_v1', '--max-new-tokens', '3000', '--engine', 'reference'];

/** Runs the CLI; `act` gets the child once stdout has said something (or after `afterMs` with nothing said). */
function run(args: string[], act: (child: ReturnType<typeof spawn>) => void, afterMs?: number): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, [CLI, ...args]);
    let stdout = '';
    let stderr = '';
    let acted = false;
    const once = () => {
      if (!acted) act(child);
      acted = true;
    };
    child.stdout!.on('data', (d) => {
      stdout += d;
      if (afterMs === undefined) once();
    });
    child.stdout!.on('error', () => {});
    child.stderr!.on('data', (d) => (stderr += d));
    if (afterMs !== undefined) setTimeout(once, afterMs);
    child.on('close', (code, signal) => ok({ code, signal, stdout, stderr }));
  });
}

describe('CLI signals and pipes', () => {
  test('a reader that closes the pipe (| head) ends generate quietly with exit 0', async () => {
    const r = await run(LONG, (child) => child.stdout!.destroy());
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /EPIPE|Error|at /);
  });

  test('Ctrl-C while an answer streams: the answer so far, a newline, "interrupted", exit 130', async () => {
    const r = await run(LONG, (child) => child.kill('SIGINT'));
    assert.equal(r.code, 130, r.stderr);
    assert.ok(r.stdout.length > 1 && r.stdout.endsWith('\n'), JSON.stringify(r.stdout));
    assert.match(r.stderr, /^vipllava: interrupted\n$/m);
  });

  test('Ctrl-C during beam search: the best beam so far is printed, exit 130', async () => {
    const r = await run([...LONG, '--num-beams', '2'], (child) => child.kill('SIGINT'), 1500);
    assert.equal(r.code, 130, r.stderr);
    assert.ok(r.stdout.trim().length > 0, JSON.stringify(r.stdout));
    assert.match(r.stderr, /vipllava: interrupted/);
  });
});
