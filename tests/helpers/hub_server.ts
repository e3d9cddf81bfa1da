/**
 * Test-only: a local HTTP server that serves checkpoint folders the way huggingface.co's `resolve` URLs do.
 * Small files answer with an ETag; .safetensors files are "LFS": the resolve URL redirects (302) to a CDN
 * path, and HEAD gives X-Linked-Etag (the sha256) and X-Linked-Size. Every answer carries X-Repo-Commit.
 * The CDN honours Range requests (open-ended and closed), and can drop the connection half-way through a file once.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface Repo {
  id: string;
  commit: string;
  folder: string;
  /** Files of `folder` to leave out. */
  hide?: string[];
}

export interface LoggedRequest {
  method: string;
  url: string;
  range?: string;
  authorization?: string;
}

export class HubServer {
  readonly log: LoggedRequest[] = [];
  /** Files whose first CDN transfer is cut off after half the bytes. */
  readonly dropOnce = new Set<string>();
  private server: Server;
  private blobs = new Map<string, Buffer>(); // sha256 -> bytes

  private constructor(
    private readonly repos: Repo[],
    private readonly token?: string,
    /** Files served at /page/<name>, so that a page in a browser reads the repos from its own origin. */
    private readonly pages: Record<string, { body: string | Buffer; type: string }> = {},
  ) {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  static async start(repos: Repo[], { token, pages }: { token?: string; pages?: HubServer['pages'] } = {}): Promise<HubServer> {
    const s = new HubServer(repos, token, pages);
    await new Promise<void>((ok) => s.server.listen(0, '127.0.0.1', ok));
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.log.push({ method: req.method!, url: req.url!, range: req.headers.range, authorization: req.headers.authorization });
    const url = new URL(req.url!, 'http://x');
    const page = url.pathname.match(/^\/page\/(.+)$/);
    if (page && this.pages[page[1]]) {
      const { body, type } = this.pages[page[1]];
      res.writeHead(200, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)) });
      return void res.end(body);
    }
    const cdn = url.pathname.match(/^\/cdn\/([0-9a-f]{64})\/(.+)$/);
    if (cdn) return this.serveBody(req, res, this.blobs.get(cdn[1])!, cdn[2]);
    const m = url.pathname.match(/^\/(.+?)\/resolve\/([^/]+)\/(.+)$/);
    if (!m) return this.fail(res, 404, 'RepoNotFound');
    const [, id, rev, file] = m.map(decodeURIComponent);
    const repo = this.repos.find((r) => r.id === id);
    if (!repo) return this.fail(res, 404, 'RepoNotFound');
    if (this.token && req.headers.authorization !== `Bearer ${this.token}`) return this.fail(res, 401, 'GatedRepo');
    if (rev !== 'main' && rev !== repo.commit) return this.fail(res, 404, 'RevisionNotFound');
    const files = readdirSync(repo.folder).filter((f) => !(repo.hide ?? []).includes(f));
    res.setHeader('x-repo-commit', repo.commit);
    if (!files.includes(file)) return this.fail(res, 404, 'EntryNotFound');
    const bytes = readFileSync(join(repo.folder, file));
    if (file.endsWith('.safetensors')) {
      const sha = createHash('sha256').update(bytes).digest('hex');
      this.blobs.set(sha, bytes);
      res.writeHead(302, {
        location: `/cdn/${sha}/${encodeURIComponent(file)}`,
        'x-linked-etag': `"${sha}"`,
        'x-linked-size': String(bytes.length),
        etag: '"pointer-etag"',
        'content-length': '0',
      });
      return void res.end();
    }
    const etag = createHash('sha1').update(bytes).digest('hex');
    res.setHeader('etag', `"${etag}"`);
    return this.serveBody(req, res, bytes, file);
  }

  private serveBody(req: IncomingMessage, res: ServerResponse, bytes: Buffer, name: string): void {
    let start = 0;
    let end = bytes.length; // exclusive
    const range = req.headers.range?.match(/^bytes=(\d+)-(\d*)$/); // from an offset to the end, or a closed range
    if (range) {
      start = Number(range[1]);
      if (range[2]) end = Math.min(end, Number(range[2]) + 1);
      if (start >= bytes.length || end <= start) {
        res.writeHead(416, { 'content-range': `bytes */${bytes.length}` });
        return void res.end();
      }
      res.writeHead(206, { 'content-length': String(end - start), 'content-range': `bytes ${start}-${end - 1}/${bytes.length}` });
    } else {
      res.writeHead(200, { 'content-length': String(bytes.length), 'accept-ranges': 'bytes' });
    }
    if (req.method === 'HEAD') return void res.end();
    const body = bytes.subarray(start, end);
    if (this.dropOnce.delete(decodeURIComponent(name))) {
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(body);
  }

  private fail(res: ServerResponse, status: number, code: string): void {
    res.writeHead(status, { 'x-error-code': code, 'content-length': '0' });
    res.end();
  }
}
