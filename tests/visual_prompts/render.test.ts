/**
 * The renderer against Pillow: 51 reference renders (tools/make_visual_prompt_fixtures.py) of every shape at
 * three image scales, drawn by Pillow 12.3 with the original ViP-LLaVA ImageDraw calls and fixed parameters.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { loadImage } from '../../src/processor/image.js';
import { compositeOver } from '../../src/visual_prompts/draw.js';
import { Layer, type Rgba } from '../../src/visual_prompts/raster.js';
import { render, type Plan } from '../../src/visual_prompts/shapes.js';
import { FIXTURES, readJsonFixture } from '../helpers/fixtures.js';

const DIR = join(FIXTURES, 'goldens', 'visual_prompts');
const { cases } = readJsonFixture<{ cases: Array<{ name: string; size: [number, number]; plan: Plan; rgba: Rgba }> }>('goldens', 'visual_prompts', 'cases.json');

async function rgbaOf(file: string): Promise<Uint8Array> {
  return new Uint8Array((await sharp(file).ensureAlpha().raw().toBuffer()).buffer);
}

describe('visual prompts drawn as Pillow draws them', () => {
  const ious: number[] = [];
  for (const c of cases) {
    test(`${c.name} (${c.plan.shape}, ${c.size.join('×')})`, async () => {
      const want = await rgbaOf(join(DIR, `${c.name}.png`));
      const layer = new Layer(c.size[0], c.size[1]);
      render(layer, c.plan, c.rgba);
      let both = 0;
      let either = 0;
      for (let i = 0; i < c.size[0] * c.size[1]; i++) {
        const ours = layer.data[i * 4 + 3] > 0;
        const theirs = want[i * 4 + 3] > 0;
        if (ours && theirs) {
          both++;
          for (let k = 0; k < 4; k++) assert.equal(layer.data[i * 4 + k], want[i * 4 + k], `colour/alpha at pixel ${i}`);
        }
        if (ours || theirs) either++;
      }
      assert.ok(either > 0, 'something is drawn');
      const iou = both / either;
      ious.push(iou);
      assert.ok(iou >= 0.95, `IoU ${iou.toFixed(4)} with Pillow's render`);
    });
  }

  test('overall the renders are Pillow-identical (mean IoU ≥ 0.999)', () => {
    assert.equal(ious.length, cases.length);
    assert.ok(ious.reduce((a, b) => a + b, 0) / ious.length >= 0.999);
  });

  test('compositing onto an image equals Pillow\'s alpha_composite', async () => {
    const base = await loadImage(join(DIR, 'base.png'));
    let checked = 0;
    for (const c of cases) {
      let want;
      try {
        want = await loadImage(join(DIR, `composite_${c.name}.png`));
      } catch {
        continue; // composites exist for one case per shape
      }
      const layer = new Layer(c.size[0], c.size[1]);
      render(layer, c.plan, c.rgba);
      assert.deepEqual(compositeOver(base, layer).data, want.data, c.name);
      checked++;
    }
    assert.equal(checked, 8);
  });
});
