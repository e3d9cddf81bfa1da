/**
 * The results file: one JSON line per item, appended and flushed as items finish, in the dataset's order. A
 * restart reads it back, drops a last line that a kill cut short, and skips the ids it holds, so a killed run
 * loses at most the items in flight and never writes an id twice; the finished file is the one an uninterrupted
 * run writes.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import type { BatchResult } from './items.js';

export class ResultsFile {
  /** Results already in the file, by id. */
  readonly done = new Map<string, BatchResult>();
  private fd: number;

  constructor(readonly path: string) {
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      const end = text.lastIndexOf('\n') + 1; // a line without its newline was cut short: written again
      if (end < text.length) truncateSync(path, Buffer.byteLength(text.slice(0, end)));
      text
        .slice(0, end)
        .split('\n')
        .forEach((line, i) => {
          if (line === '') return;
          let r: BatchResult;
          try {
            r = JSON.parse(line) as BatchResult;
          } catch {
            throw new Error(`${path} line ${i + 1} is not a result line; is this the results file of a batch run?`);
          }
          if (typeof r?.id !== 'string') throw new Error(`${path} line ${i + 1} has no id; is this the results file of a batch run?`);
          this.done.set(r.id, r);
        });
    }
    this.fd = openSync(path, 'a');
  }

  /** Appends a result (once per id) and flushes it to the disk. */
  write(r: BatchResult): void {
    if (this.done.has(r.id)) return;
    writeSync(this.fd, `${JSON.stringify(r)}\n`);
    fsyncSync(this.fd);
    this.done.set(r.id, r);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * Keeps results in the items' order: each arrives with its index, and the longest finished run from the start
 * goes out at once.
 */
export class InOrder {
  private next = 0;
  private readonly held = new Map<number, BatchResult>();

  constructor(private readonly emit: (r: BatchResult) => void) {}

  put(index: number, r: BatchResult): void {
    this.held.set(index, r);
    while (this.held.has(this.next)) {
      this.emit(this.held.get(this.next)!);
      this.held.delete(this.next++);
    }
  }
}
