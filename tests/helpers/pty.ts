/** Test-only: runs a command in a pseudo-terminal (util-linux `script`) and drives it like a person would. */
import { spawn, type ChildProcess } from 'node:child_process';

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

export class PtySession {
  private raw = '';
  private readonly child: ChildProcess;
  readonly exited: Promise<number>;

  constructor(command: string, cwd: string) {
    this.child = spawn('script', ['-qfec', command, '/dev/null'], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.raw += d.toString('utf8')));
    this.exited = new Promise((ok) => this.child.on('close', (code) => ok(code ?? -1)));
  }

  /** Everything printed so far, without terminal escape codes. */
  get output(): string {
    return this.raw.replace(ANSI, '');
  }

  /** Types keys (use "\r" for Enter, "\x03" for Ctrl-C, "\x04" for Ctrl-D). */
  type(keys: string): void {
    this.child.stdin!.write(keys);
  }

  /** Waits until the output (from `from` on) matches. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 30000): Promise<number> {
    const start = Date.now();
    for (;;) {
      const m = pattern.exec(this.output.slice(from));
      if (m) return from + m.index + m[0].length;
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${pattern}; output so far:\n${this.output.slice(-2000)}`);
      await new Promise((ok) => setTimeout(ok, 20));
    }
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
