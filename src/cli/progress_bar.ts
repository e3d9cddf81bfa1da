import type { ProgressEvent } from '../index.node.js';

const MB = 1024 * 1024;

/** A one-line progress bar on stderr (only when it is a terminal). */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): (p: ProgressEvent) => void {
  let last = 0;
  let lastKey = '';
  return (p) => {
    if (!stream.isTTY) return;
    const key = `${p.stage}:${p.file}`;
    const done = p.loaded >= p.total;
    const now = Date.now();
    if (key === lastKey && !done && now - last < 100) return;
    last = now;
    lastKey = key;
    const width = 30;
    const frac = p.total > 0 ? Math.min(1, p.loaded / p.total) : 1;
    const filled = Math.round(frac * width);
    const label = p.stage === 'download' ? `downloading ${p.file}` : 'loading weights';
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    stream.write(`\r${bar} ${(frac * 100).toFixed(0).padStart(3)}% ${(p.loaded / MB).toFixed(1)}/${(p.total / MB).toFixed(1)} MB ${label}\x1b[K`);
    if (done) stream.write('\n');
  };
}
