/**
 * The core reads checkpoints through byte sources alone: the same model loads from HTTP range requests (a
 * hub repository with no cache and no file system), from Blobs (a browser's file picker) and from files, and
 * gives the same greedy tokens as transformers.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BlobSource, HttpCheckpoint, HttpSource, MemorySource, VipLlavaForConditionalGeneration, VipLlavaProcessor, WeightsError,
  type ByteSource, type CheckpointFiles,
} from '../../src/index.node.js';
import { loadGoldens, TINY_LLAMA } from '../helpers/fixtures.js';
import { HubServer } from '../helpers/hub_server.js';

const REPO = 'llava-hf/vip-llava-tiny';

/** A checkpoint held as Blobs, as a web page gets files from a picker. */
function blobCheckpoint(folder: string): CheckpointFiles {
  const blobs = new Map(readdirSync(folder).map((f) => [f, new Blob([readFileSync(join(folder, f))])]));
  const optionalFile = async (name: string): Promise<ByteSource | null> => (blobs.has(name) ? new BlobSource(blobs.get(name)!, name) : null);
  return {
    description: 'blobs',
    directory: null,
    optionalFile,
    file: async (name) => (await optionalFile(name)) ?? Promise.reject(new Error(`${name} not found in blobs`)),
  };
}

async function greedy(model: VipLlavaForConditionalGeneration): Promise<unknown> {
  const c = (await loadGoldens('tiny-llama')).meta.generate.text_only;
  assert.deepEqual((await model.generate({ inputIds: [c.input_ids as number[]], maxNewTokens: 12 })).tolist(), [c.output]);
  return c.output;
}

describe('byte sources', () => {
  let hub: HubServer;
  before(async () => {
    hub = await HubServer.start([{ id: REPO, commit: 'c'.repeat(40), folder: TINY_LLAMA }]);
  });
  after(() => hub.close());

  test('a hub repository read by HTTP range requests, with no cache', async () => {
    const checkpoint = new HttpCheckpoint(REPO, { endpoint: hub.url });
    hub.log.length = 0;
    await greedy(await VipLlavaForConditionalGeneration.fromPretrained(checkpoint, { engine: 'reference' }));
    const ranges = hub.log.filter((r) => r.url.startsWith('/cdn/') && r.range);
    assert.ok(ranges.length > 3, `weights are read in ranges, tensor by tensor: ${JSON.stringify(hub.log.slice(0, 20))}`);
    assert.ok(ranges.every((r) => /^bytes=\d+-\d+$/.test(r.range!)));
    const processor = await VipLlavaProcessor.fromPretrained(checkpoint);
    assert.ok(processor.tokenizer.vocabSize > 32000);
    assert.equal(await new HttpCheckpoint(REPO, { endpoint: hub.url }).optionalFile('no-such-file.json'), null);
  });

  test('a checkpoint of Blobs', async () => {
    await greedy(await VipLlavaForConditionalGeneration.fromPretrained(blobCheckpoint(TINY_LLAMA)));
  });

  test('reads past the end are errors naming the source', async () => {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    for (const source of [new MemorySource(bytes, 'mem'), new BlobSource(new Blob([bytes]), 'blob')]) {
      assert.deepEqual(Array.from(await source.read(1, 2)), [2, 3]);
      await assert.rejects(source.read(2, 4), (e: unknown) => e instanceof WeightsError && /^(mem|blob): cannot read 4 bytes at 2; it has 4/.test((e as Error).message));
    }
    await assert.rejects(new HttpSource(`${hub.url}/${REPO}/resolve/main/absent.json`).size(), /HTTP 404/);
  });
});
