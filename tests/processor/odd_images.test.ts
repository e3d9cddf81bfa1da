/**
 * Odd files decode to exactly Pillow's pixels (what transformers' load_image computes: exif_transpose, then
 * convert("RGB")), or are refused where Pillow refuses them. tools/make_odd_image_fixtures.py wrote the files
 * and Pillow's answers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { InputError, loadImage } from '../../src/index.node.js';
import { FIXTURES, readJsonFixture } from '../helpers/fixtures.js';

const gold = readJsonFixture<{ images: Record<string, { outcome: 'exact'; size: [number, number]; rgb: string } | { outcome: 'refused'; pillow: string }> }>('goldens', 'odd_images.json');

describe('odd image files, as Pillow decodes them', () => {
  for (const [name, want] of Object.entries(gold.images)) {
    test(name, async () => {
      const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'images', 'odd', name)));
      if (want.outcome === 'refused') {
        await assert.rejects(loadImage(bytes), (e: unknown) => e instanceof InputError);
        return;
      }
      const got = await loadImage(bytes);
      assert.deepEqual([got.width, got.height], want.size);
      const expected = new Uint8Array(Buffer.from(want.rgb, 'base64'));
      let worst = 0;
      for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i] - got.data[i]));
      assert.equal(worst, 0, `largest difference from Pillow: ${worst} levels`);
    });
  }
});
