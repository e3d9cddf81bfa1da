/** drawVisualPrompts: seeded random choices in the original's ranges, phrases, styles, and clear errors. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { drawVisualPrompts, cropWarnings, type VisualPrompt } from '../../src/visual_prompts/draw.js';
import { promptPhrase, parseColor, SHAPES } from '../../src/visual_prompts/palette.js';
import { polygonContains } from '../../src/visual_prompts/geometry.js';
import type { Plan } from '../../src/visual_prompts/shapes.js';
import { InputError } from '../../src/errors.js';
import type { RgbImage } from '../../src/processor/image.js';

const gray = (width: number, height: number): RgbImage => ({ width, height, data: new Uint8Array(width * height * 3).fill(90) });
const image = gray(672, 504); // s = 2
const s = 2;
const box: [number, number, number, number] = [200, 150, 420, 330];
const poly = [220, 160, 400, 170, 410, 320, 230, 300];

function planOf<S extends Plan['shape']>(shape: S, seed: number, extra: Partial<VisualPrompt> = {}, style: 'random' | 'eval' = 'random') {
  const r = drawVisualPrompts(image, [{ shape, box, ...extra }], { seed, style });
  return { ...r.prompts[0], plan: r.prompts[0].plan as Extract<Plan, { shape: S }>, image: r.image };
}

describe('random choices', () => {
  test('the same seed draws the same pixels and choices; another seed differs', () => {
    for (const shape of SHAPES) {
      const extra = shape === 'mask' || shape === 'mask_contour' ? { polygons: [poly] } : {};
      const a = planOf(shape, 7, extra);
      const b = planOf(shape, 7, extra);
      assert.deepEqual(a.plan, b.plan, shape);
      assert.deepEqual(a.image.data, b.image.data, shape);
      if (shape !== 'mask') {
        const differs = [8, 9, 10, 11].some((seed) => JSON.stringify(planOf(shape, seed, extra).plan) !== JSON.stringify(a.plan));
        assert.ok(differs, `${shape}: other seeds make other choices`);
      }
    }
  });

  test("widths, alpha and sizes stay in the original's ranges (s = max(W, H) / 336)", () => {
    for (let seed = 0; seed < 40; seed++) {
      const r = planOf('rectangle', seed);
      assert.ok(r.plan.width >= 2 * s && r.plan.width <= 8 * s, `rectangle width ${r.plan.width}`);
      assert.ok(r.alpha >= 96 && r.alpha <= 255);
      const e = planOf('ellipse', seed).plan;
      const ratio = (e.box[2] - e.box[0]) / (box[2] - box[0]);
      assert.ok(ratio >= 1 && ratio <= 1.5, `ellipse enlargement ${ratio}`);
      assert.ok(Math.abs((e.box[3] - e.box[1]) / (box[3] - box[1]) - ratio) < 1e-9, 'same ratio on both axes');
      const sc = planOf('scribble', seed).plan;
      assert.ok(sc.width >= 2 * s && sc.width <= 12 * s);
      assert.equal(sc.samples, 1000 * s);
      const m = planOf('mask', seed, { polygons: [poly] });
      assert.ok(m.alpha >= 48 && m.alpha <= 128);
      const mc = planOf('mask_contour', seed, { polygons: [poly] }).plan;
      assert.ok(mc.width >= 1 * s && mc.width <= 2 * s);
      const ar = planOf('arrow', seed).plan;
      assert.ok(ar.width >= 1 * s && ar.width <= 6 * s);
      const side = Math.min(box[2] - box[0], box[3] - box[1]);
      assert.ok(ar.length <= 0.8 * side && ar.length >= 50 * s, 'between 0.8·side and the maximum (a large box)');
      assert.ok(ar.head >= 0.2 * ar.length - 1e-9 && ar.head <= Math.max(0.5 * ar.length, 6 * s));
      assert.ok(Math.abs(ar.tip[0] - 310) <= 0.25 * 220 && Math.abs(ar.tip[1] - 240) <= 0.25 * 180, 'tip near the box centre');
      const pt = planOf('point', seed, { polygons: [poly] }).plan;
      assert.ok(pt.radius >= 5 * s && pt.radius <= 20 * s);
      assert.ok(pt.aspect === 1 || (pt.aspect >= 0.5 && pt.aspect <= 2));
      const tr = planOf('triangle', seed, { polygons: [poly] }).plan;
      for (const [x, y] of tr.vertices) assert.ok(polygonContains(poly, x, y), 'triangle vertices inside the mask');
    }
  });

  test('the eval style: alpha 128, constant rectangle width and point radius', () => {
    const r = planOf('rectangle', 3, {}, 'eval');
    assert.equal(r.alpha, 128);
    assert.equal(r.plan.width, 3 * s);
    const p = planOf('point', 3, {}, 'eval').plan;
    assert.equal(p.radius, 8 * s);
    assert.equal(p.aspect, 1);
    assert.equal(planOf('rectangle', 3, { alpha: 200, width: 5 }, 'eval').plan.width, 10);
  });

  test('a point prompt at a given point is drawn there', () => {
    const r = drawVisualPrompts(image, [{ shape: 'point', point: [100, 80], color: 'lime' }], { style: 'eval' });
    assert.deepEqual((r.prompts[0].plan as Extract<Plan, { shape: 'point' }>).center, [100, 80]);
    assert.deepEqual(r.prompts[0].drawnBounds, [100 - 16, 80 - 16, 100 + 16, 80 + 16]);
    const px = (80 * 672 + 100) * 3;
    assert.deepEqual(Array.from(r.image.data.subarray(px, px + 3)), [45, 173, 45]); // 128/255 lime over grey 90
  });
});

describe('phrases and colours', () => {
  test('phrases follow the training text', () => {
    assert.equal(promptPhrase('rectangle', 'red'), 'within the red rectangle');
    assert.equal(promptPhrase('arrow', 'blue'), 'pointed to by the blue arrow');
    assert.equal(promptPhrase('point', 'lime'), 'at the lime point');
    assert.equal(promptPhrase('mask_contour', 'gold'), 'with the gold mask contour');
    assert.equal(promptPhrase('scribble', null), 'with the scribble');
  });

  test('colours by name, hex or numbers; unnamed colours get no colour word; defaults are distinct', () => {
    assert.deepEqual(parseColor('#FF0000'), { rgb: [255, 0, 0], name: 'red' });
    assert.deepEqual(parseColor('12, 34, 56'), { rgb: [12, 34, 56], name: null });
    const r = drawVisualPrompts(image, [{ shape: 'rectangle', box, color: [1, 2, 3] }, { shape: 'ellipse', box }, { shape: 'arrow', box }], { seed: 1 });
    assert.equal(r.prompts[0].phrase, 'within the rectangle');
    assert.notEqual(r.prompts[1].colorName, r.prompts[2].colorName);
    assert.ok(r.prompts[1].colorName && r.prompts[2].colorName);
  });
});

describe('errors name the prompt and what is wrong', () => {
  const bad: Array<[VisualPrompt, RegExp]> = [
    [{ shape: 'rectangle', box: [700, 10, 800, 50] }, /visual prompt 1 \(rectangle\): box \[700, 10, 800, 50\] lies outside the 672×504 image/],
    [{ shape: 'rectangle', box: [300, 10, 100, 50] }, /has x2 < x1 or y2 < y1/],
    [{ shape: 'mask', polygons: [] }, /polygons is empty/],
    [{ shape: 'mask', polygons: [[1, 2, 3, 4]] }, /polygon 1 has 2 points; a polygon needs at least 3/],
    [{ shape: 'rectangle', box, color: 'mauve' }, /unknown colour "mauve"/],
    [{ shape: 'hexagon' as never, box }, /visual prompt 1: unknown shape "hexagon"/],
    [{ shape: 'rectangle', box, alpha: 300 }, /alpha must be an integer 0-255, got 300/],
    [{ shape: 'point', point: [-5, 10] }, /point \[-5, 10\] lies outside/],
    [{ shape: 'ellipse', point: [5, 10] }, /needs a box or polygons \(a point is enough only for points and arrows\)/],
    [{ shape: 'rectangle' }, /needs a box, polygons or a point/],
    [{ shape: 'rectangle', box: [10, 10, 10, 50] }, /box \[10, 10, 10, 50\] has no area \(x2 = x1 or y2 = y1\)/],
  ];
  for (const [prompt, message] of bad) {
    test(JSON.stringify(prompt), () => {
      assert.throws(() => drawVisualPrompts(image, [prompt]), (e: unknown) => e instanceof InputError && message.test(e.message));
    });
  }
  test('no prompts', () => assert.throws(() => drawVisualPrompts(image, []), /needs at least one visual prompt/));
  test('an image that is not decoded pixels (a path)', () => {
    assert.throws(() => drawVisualPrompts('photo.jpg' as never, [{ shape: 'rectangle', box }]), /drawVisualPrompts needs a decoded RGB image \{ width, height, data \} \(load a file or bytes with loadImage first\), got the string "photo.jpg"/);
  });
});

test('a prompt near the edge of a wide image is reported as cut by the centre crop', () => {
  const wide = gray(800, 300);
  const edge = drawVisualPrompts(wide, [{ shape: 'rectangle', box: [10, 50, 120, 200] }], { style: 'eval' });
  assert.equal(cropWarnings(wide, edge.prompts).length, 1);
  assert.match(cropWarnings(wide, edge.prompts)[0], /visual prompt 1 \(within the \w+ rectangle\) reaches outside the centre crop \[250, 0, 549, 299\]/);
  const centre = drawVisualPrompts(wide, [{ shape: 'rectangle', box: [300, 50, 500, 250] }], { style: 'eval' });
  assert.deepEqual(cropWarnings(wide, centre.prompts), []);
});
