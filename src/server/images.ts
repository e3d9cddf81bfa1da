/**
 * Images named in requests: base64 (Ollama) and data URLs (OpenAI) always; files only under --image-root (no
 * way out of it, links included); http(s) only with --allow-remote-images, to public addresses only (checked on
 * the address actually connected to, so a DNS answer cannot point it inside), with a size and a time limit.
 */
import { lookup, type LookupAddress } from 'node:dns';
import { readFile, realpath, stat } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadImage, type RgbImage } from '../index.node.js';
import { ApiError } from './errors.js';

export interface ImagePolicy {
  /** Pixels per decoded image. */
  maxPixels: number;
  /** Bytes per encoded image. */
  maxBytes: number;
  /** Folder that file:// images must be inside; none means files are refused. */
  imageRoot?: string;
  allowRemote: boolean;
  remoteTimeoutMs: number;
  /** Tests only: let remote fetches reach loopback and private addresses. */
  allowPrivateAddresses?: boolean;
}

const PRIVATE = new BlockList();
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 3]] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [['::', 127], ['fc00::', 7], ['fe80::', 10], ['::ffff:0:0', 96], ['ff00::', 8]] as const) PRIVATE.addSubnet(net, bits, 'ipv6');

export const isPrivateAddress = (address: string): boolean => PRIVATE.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** An image from a request field (`param` names it in errors). */
export async function requestImage(ref: string, policy: ImagePolicy, param: string): Promise<RgbImage> {
  const bytes = await imageBytes(ref, policy, param);
  try {
    return await loadImage(bytes, { maxPixels: policy.maxPixels });
  } catch (e) {
    throw new ApiError(400, `${param}: ${(e as Error).message.replace(/^.*?: /, '')}`, param, 'invalid_image');
  }
}

async function imageBytes(ref: string, policy: ImagePolicy, param: string): Promise<Uint8Array> {
  if (ref.startsWith('data:')) {
    const m = /^data:image\/[\w.+-]+;base64,/.exec(ref);
    if (!m) throw new ApiError(400, `${param}: a data URL must be data:image/<type>;base64,<data>`, param, 'invalid_image');
    return base64(ref.slice(m[0].length), policy, param);
  }
  if (ref.startsWith('file:')) return fileBytes(ref, policy, param);
  if (/^https?:\/\//i.test(ref)) {
    if (!policy.allowRemote) throw new ApiError(400, `${param}: remote images are off on this server (start it with --allow-remote-images)`, param, 'invalid_image');
    return remoteBytes(new URL(ref), policy, param, 3);
  }
  return base64(ref, policy, param); // Ollama: plain base64
}

function base64(text: string, policy: ImagePolicy, param: string): Uint8Array {
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(text)) throw new ApiError(400, `${param}: not base64 image data, a data URL, or an allowed URL`, param, 'invalid_image');
  if (text.length * 0.75 > policy.maxBytes) throw new ApiError(413, `${param}: the image is over ${policy.maxBytes} bytes`, param, 'image_too_large');
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length === 0) throw new ApiError(400, `${param}: the image is empty`, param, 'invalid_image');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

async function fileBytes(ref: string, policy: ImagePolicy, param: string): Promise<Uint8Array> {
  if (!policy.imageRoot) throw new ApiError(400, `${param}: local files are off on this server (start it with --image-root DIR)`, param, 'invalid_image');
  let path: string;
  try {
    const root = await realpath(policy.imageRoot);
    path = await realpath(fileURLToPath(ref));
    const inside = relative(root, path);
    if (inside.startsWith('..') || isAbsolute(inside)) throw new Error('outside');
  } catch {
    throw new ApiError(400, `${param}: no such image under the image root`, param, 'invalid_image'); // the same words whether it exists or not
  }
  if ((await stat(path)).size > policy.maxBytes) throw new ApiError(413, `${param}: the image is over ${policy.maxBytes} bytes`, param, 'image_too_large');
  return new Uint8Array(await readFile(path));
}

function remoteBytes(url: URL, policy: ImagePolicy, param: string, redirects: number): Promise<Uint8Array> {
  // Every address the lookup gives (one, or all of them for Node's happy-eyeballs connect) must be public.
  const guarded: LookupFunction = (host, options, done) =>
    lookup(host, options, (err, address: string | LookupAddress[], family?: number) => {
      const addresses = typeof address === 'string' ? [address] : address.map((a) => a.address);
      if (!err && !policy.allowPrivateAddresses && addresses.some(isPrivateAddress)) {
        done(Object.assign(new Error('a private address'), { code: 'EPRIVATE' }), '', 4);
      } else done(err, address as string, family);
    });
  const literal = url.hostname.replace(/^\[|\]$/g, ''); // an IP address is connected to without a lookup
  if (!policy.allowPrivateAddresses && isIP(literal) && isPrivateAddress(literal)) {
    return Promise.reject(new ApiError(400, `${param}: ${url.hostname} is a private address`, param, 'invalid_image'));
  }
  return new Promise((ok, fail) => {
    const get = url.protocol === 'https:' ? httpsGet : httpGet;
    // The whole transfer is bounded in time (a slow trickle too), not just each wait for the socket.
    const req = get(url, { lookup: guarded, signal: AbortSignal.timeout(policy.remoteTimeoutMs) }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const next = status >= 300 && status < 400 && res.headers.location ? new URL(res.headers.location, url) : null;
      if (next && redirects > 0 && /^https?:$/.test(next.protocol)) {
        res.resume();
        remoteBytes(next, policy, param, redirects - 1).then(ok, fail);
        return;
      }
      if (status !== 200) {
        res.resume();
        fail(new ApiError(400, `${param}: fetching the image gave HTTP ${status}`, param, 'invalid_image'));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > policy.maxBytes) {
          req.destroy();
          fail(new ApiError(413, `${param}: the image is over ${policy.maxBytes} bytes`, param, 'image_too_large'));
        } else chunks.push(c);
      });
      res.on('end', () => ok(new Uint8Array(Buffer.concat(chunks))));
      res.on('error', failed);
    });
    req.on('error', failed);
    function failed(e: Error): void {
      if (e instanceof ApiError) fail(e);
      else if ((e as NodeJS.ErrnoException).code === 'EPRIVATE') fail(new ApiError(400, `${param}: ${url.hostname} is a private address`, param, 'invalid_image'));
      else if (e.name === 'AbortError') fail(new ApiError(400, `${param}: fetching the image took over ${policy.remoteTimeoutMs} ms`, param, 'invalid_image'));
      else fail(new ApiError(400, `${param}: cannot fetch the image (${(e as NodeJS.ErrnoException).code ?? e.message})`, param, 'invalid_image'));
    }
  });
}
