/**
 * Mask polygons as the original's shapely calls see them (tools/make_mask_union_fixtures.py, shapely 2.1.2 / GEOS
 * 3.13.1): where `unary_union` raises, the ellipse and the triangle fall back to the box; where it succeeds, its
 * bounds and `contains` are ours.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FIXTURES } from '../helpers/fixtures.js';
import { crossesItself, maskUnion, polygonContains } from '../../src/visual_prompts/geometry.js';
import { plan, type Box, type FlatPolygon, type Plan } from '../../src/visual_prompts/shapes.js';
import { Rng } from '../../src/rng.js';

interface Case {
  name: string;
  polygons: FlatPolygon[];
  union_raises: boolean;
  bounds?: Box;
  points?: [number, number][];
  contains?: boolean[];
  ellipse_box: Box;
}
const golden = JSON.parse(readFileSync(join(FIXTURES, 'goldens', 'visual_prompts', 'mask_union.json'), 'utf8')) as {
  meta: { box: Box; size_ratio: number };
  cases: Case[];
};
const BOX = golden.meta.box;

/** A generator whose every draw is 0.5: randint takes its middle, and the ellipse's size ratio is 1.25. */
const halfway = { nextFloat: () => 0.5, nextUint32: () => 0x80000000 } as unknown as Rng;

describe("the polygons' union as shapely computes it", () => {
  for (const c of golden.cases) {
    test(c.name, () => {
      const union = maskUnion(c.polygons);
      assert.equal(union === null, c.union_raises, c.union_raises ? 'shapely raises here' : 'shapely unions these');
      if (union && c.bounds && c.points && c.contains) {
        assert.deepEqual(union.bounds, c.bounds);
        c.points.forEach(([x, y], i) => assert.equal(union.contains(x, y), c.contains![i], `contains(${x}, ${y})`));
      }
      const e = plan('ellipse', { box: BOX, polygons: c.polygons }, 336, halfway, { style: 'random' }) as Extract<Plan, { shape: 'ellipse' }>;
      e.box.forEach((v, i) => assert.ok(Math.abs(v - c.ellipse_box[i]) < 1e-9, `ellipse box ${e.box.join(',')} vs ${c.ellipse_box.join(',')}`));
    });
  }
  test('the fixture holds both outcomes', () => {
    assert.ok(golden.cases.some((c) => c.union_raises) && golden.cases.some((c) => !c.union_raises));
  });
});

describe('when the union fails', () => {
  const bowTie = [0, 0, 10, 10, 10, 0, 0, 10];
  const square = [30, 20, 45, 20, 45, 40, 30, 40];
  test('triangle vertices are drawn anywhere in the box, as the original does', () => {
    let outside = 0;
    for (let seed = 0; seed < 20; seed++) {
      const t = plan('triangle', { box: BOX, polygons: [bowTie, square] }, 336, new Rng(seed), { style: 'random' }) as Extract<Plan, { shape: 'triangle' }>;
      for (const [x, y] of t.vertices) {
        assert.ok(x >= BOX[0] && x <= BOX[2] && y >= BOX[1] && y <= BOX[3]);
        if (!polygonContains(bowTie, x, y) && !polygonContains(square, x, y)) outside++;
      }
    }
    assert.ok(outside > 0, 'some vertices land outside the polygons');
  });
  test("without a box, the polygons' bounds stand in for it", () => {
    const e = plan('ellipse', { polygons: [bowTie, square] }, 336, halfway, { style: 'random' }) as Extract<Plan, { shape: 'ellipse' }>;
    assert.deepEqual(e.box, [0 - 45 * 0.125, 0 - 40 * 0.125, 45 + 45 * 0.125, 40 + 40 * 0.125]);
  });
  test('a crossing is found in a long ring in time, and a long simple ring has none', () => {
    const n = 50_000;
    const circle = Array.from({ length: n }, (_, i) => [Math.cos((2 * Math.PI * i) / n) * 1000, Math.sin((2 * Math.PI * i) / n) * 1000]).flat();
    assert.equal(crossesItself(circle), false);
    const crossed = [...circle];
    [crossed[0], crossed[2 * (n / 2)]] = [crossed[2 * (n / 2)], crossed[0]];
    assert.equal(crossesItself(crossed), true);
  });
});
