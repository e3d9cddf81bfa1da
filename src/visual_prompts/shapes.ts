/**
 * The eight ViP-LLaVA prompt shapes (llava/visual_prompt_generator.py, `image_blending`). Each shape is drawn in
 * two steps: `plan` makes every random choice the original made (stroke width, alpha, ellipse enlargement, arrow
 * length/angle/jitter/head/wobble, scribble control points, point position and aspect, triangle vertices), from
 * a seeded generator; `render` draws a plan with Pillow's rules and no randomness. Sizes scale with
 * s = max(W, H) / 336, so a width of 3 is about 3 px in the model's 336 px input.
 */
import { InputError } from '../errors.js';
import type { Rng } from '../rng.js';
import type { ShapeName } from './palette.js';
import { boundsOf, maskUnion, pointsOf, polygonContains, type Box, type FlatPolygon, type MaskUnion, type Pt } from './geometry.js';
import { Layer, type Rgba } from './raster.js';

export type { Box, FlatPolygon, Pt } from './geometry.js';

export type Plan =
  | { shape: 'rectangle'; box: Box; width: number }
  | { shape: 'ellipse'; box: Box; width: number }
  | { shape: 'triangle'; vertices: [Pt, Pt, Pt]; width: number }
  | { shape: 'point'; center: Pt; radius: number; aspect: number }
  | { shape: 'scribble'; controls: [Pt, Pt, Pt, Pt]; samples: number; width: number }
  | { shape: 'mask_contour'; polygons: FlatPolygon[]; width: number }
  | { shape: 'mask'; polygons: FlatPolygon[] }
  | { shape: 'arrow'; tip: Pt; angle: number; length: number; head: number; wobble: Pt | null; filledHead: boolean; width: number };

/** Where a prompt goes: a box, polygons (a mask), or for points and arrows a point. */
export interface Region {
  box?: Box;
  polygons?: FlatPolygon[];
  point?: Pt;
}

export interface PlanOptions {
  /** 'random' draws widths like training data; 'eval' uses the evaluation scripts' constants. */
  style: 'random' | 'eval';
  /** Width override in 336-px units, as the original's `width` argument (not used by points). */
  width?: number;
}

// -- random choices, as the original drew them --------------------------------------------------------

const uniform = (rng: Rng, a: number, b: number) => a + (b - a) * rng.nextFloat();
/** Python's random.randint(a, b), both ends included. */
const randint = (rng: Rng, a: number, b: number) => a + Math.floor(rng.nextFloat() * (b - a + 1));
const gaussian = (rng: Rng) => Math.sqrt(-2 * Math.log(1 - rng.nextFloat())) * Math.cos(2 * Math.PI * rng.nextFloat());

function pointInBox(rng: Rng, [x0, y0, x1, y1]: Box): Pt {
  return [uniform(rng, x0, x1), uniform(rng, y0, y1)];
}

function maxAngleBelow150(v: Pt[]): boolean {
  for (let i = 0; i < 3; i++) {
    const [p1, p2, p3] = [v[i], v[(i + 1) % 3], v[(i + 2) % 3]];
    const a = Math.hypot(p3[0] - p2[0], p3[1] - p2[1]);
    const b = Math.hypot(p1[0] - p3[0], p1[1] - p3[1]);
    const c = Math.hypot(p1[0] - p2[0], p1[1] - p2[1]);
    const angle = (Math.acos((a * a + c * c - b * b) / (2 * a * c)) * 180) / Math.PI;
    if (angle > 150) return false;
  }
  return true;
}

/** Makes the original's random choices for one prompt on an image whose larger side is `maxSide`. */
export function plan(shape: ShapeName, region: Region, maxSide: number, rng: Rng, o: PlanOptions): Plan {
  const s = maxSide / 336;
  const sized = (lo: number, hi: number) => Math.max(randint(rng, Math.trunc(lo * s), Math.trunc(hi * s)), 1);
  const override = (w: number) => (o.width !== undefined ? Math.max(Math.trunc(o.width * s), 1) : w);
  const polys = region.polygons?.length ? region.polygons : null;
  const box: Box | null = region.box ?? (region.point ? [region.point[0], region.point[1], region.point[0], region.point[1]] : null);
  const boxPolygon = (b: Box): FlatPolygon => [b[0], b[1], b[0], b[3], b[2], b[3], b[2], b[1]];
  const need = (what: Box | null): Box => {
    if (!what) throw new InputError(`a ${shape} prompt needs a box or polygons`);
    return what;
  };
  // Where the polygons' union fails (see maskUnion), the original uses the box; without one, the polygons' bounds.
  const fallback = (p: FlatPolygon[]): Box => box ?? boundsOf(p);
  const onePolygon = () => (polys ? polys[Math.floor(rng.nextFloat() * polys.length)] : null);

  switch (shape) {
    case 'rectangle': {
      const width = o.style === 'eval' ? Math.max(Math.trunc(3 * s), 1) : sized(2, 8);
      return { shape, box: need(box ?? (polys ? boundsOf(polys) : null)), width: override(width) };
    }
    case 'ellipse': {
      const width = override(sized(2, 8));
      const [x0, y0, x1, y1] = polys ? (maskUnion(polys)?.bounds ?? fallback(polys)) : need(box);
      const ratio = uniform(rng, 1, 1.5);
      const [cx, cy] = [(x1 + x0) / 2, (y1 + y0) / 2];
      const [w, h] = [(x1 - x0) * ratio, (y1 - y0) * ratio];
      return { shape, box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], width };
    }
    case 'triangle': {
      const width = override(sized(2, 8));
      const union = polys ? maskUnion(polys) : null;
      const b = union ? null : polys ? fallback(polys) : need(box);
      const sample = (): Pt => (union ? pointIn(rng, union) : pointInBox(rng, b!));
      for (;;) {
        const v: [Pt, Pt, Pt] = [sample(), sample(), sample()];
        if (maxAngleBelow150(v)) return { shape, vertices: v, width };
      }
    }
    case 'point': {
      const radius = o.style === 'eval' ? Math.max(Math.trunc(8 * s), 1) : sized(5, 20);
      const aspect = rng.nextFloat() < 0.5 || o.style === 'eval' ? 1 : uniform(rng, 0.5, 2);
      if (region.point && !polys && !region.box) return { shape, center: [...region.point], radius, aspect };
      const poly = onePolygon() ?? boxPolygon(need(box));
      const [x0, y0, x1, y1] = boundsOf([poly]);
      // Centre from a normal distribution around the middle with *variance* w/8, h/8, as the original.
      const draw = (): Pt => [(x0 + x1) / 2 + Math.sqrt((x1 - x0) / 8) * gaussian(rng), (y0 + y1) / 2 + Math.sqrt((y1 - y0) / 8) * gaussian(rng)];
      let center = draw();
      for (let tries = 1; !polygonContains(poly, center[0], center[1]); tries++) {
        center = draw();
        if (tries >= 10) break;
      }
      return { shape, center, radius, aspect };
    }
    case 'scribble': {
      const width = override(sized(2, 12));
      const poly = onePolygon();
      const b = poly ? null : need(box);
      const one = poly ? { bounds: boundsOf([poly]), contains: (x: number, y: number) => polygonContains(poly, x, y) } : null;
      const sample = (): Pt => (one ? pointIn(rng, one) : pointInBox(rng, b!));
      return { shape, controls: [sample(), sample(), sample(), sample()], samples: Math.trunc(1000 * s), width };
    }
    case 'mask_contour':
      return { shape, polygons: polys ?? [boxPolygon(need(box))], width: override(sized(1, 2)) };
    case 'mask':
      return { shape, polygons: polys ?? [boxPolygon(need(box))] };
    case 'arrow': {
      const width = override(sized(1, 6));
      const maxLength = Math.max(Math.trunc(50 * s), 1);
      const [x0, y0, x1, y1] = need(box ?? (polys ? boundsOf(polys) : null)); // arrows use the box only
      const side = Math.min(x1 - x0, y1 - y0);
      const length = uniform(rng, 0.8 * side, maxLength);
      const angle = uniform(rng, 0, 2 * Math.PI);
      const tip: Pt = [(x0 + x1) / 2 + uniform(rng, -0.25, 0.25) * (x1 - x0), (y0 + y1) / 2 + uniform(rng, -0.25, 0.25) * (y1 - y0)];
      const head = Math.max(uniform(rng, 0.2, 0.5) * length, Math.trunc((6 * maxSide) / 336));
      const wobble: Pt | null = rng.nextFloat() < 0.5 ? [uniform(rng, -5, 5) * Math.trunc(s), uniform(rng, -5, 5) * Math.trunc(s)] : null;
      return { shape, tip, angle, length, head, wobble, filledHead: rng.nextFloat() < 0.5, width };
    }
  }
}

/** A point uniform in the region's bounds and inside it (50 tries, then anywhere in the bounds). */
function pointIn(rng: Rng, region: MaskUnion): Pt {
  const [x0, y0, x1, y1] = region.bounds;
  for (let trial = 0; ; trial++) {
    const p: Pt = [uniform(rng, x0, x1), uniform(rng, y0, y1)];
    if (trial >= 50 || region.contains(p[0], p[1])) return p;
  }
}

// -- drawing ------------------------------------------------------------------------------------------

/** Draws a plan on a layer exactly as the original's ImageDraw calls would. */
export function render(layer: Layer, p: Plan, ink: Rgba): void {
  switch (p.shape) {
    case 'rectangle':
      layer.rectangleOutline(p.box, p.width, ink);
      return;
    case 'ellipse':
      layer.ellipse(p.box, ink, false, p.width);
      return;
    case 'triangle': {
      const [a, b, c] = p.vertices;
      layer.lines([a, b, c, a], p.width, ink, 'curve');
      return;
    }
    case 'point': {
      const [cx, cy] = p.center;
      const [rx, ry] = [p.radius * p.aspect, p.radius / p.aspect];
      layer.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], ink, true);
      return;
    }
    case 'scribble': {
      const [p0, p1, p2, p3] = p.controls;
      const n = p.samples;
      const step = 1 / (n - 1); // numpy.linspace(0, 1, n)
      let prev: Pt | null = null;
      for (let i = 0; i < n; i++) {
        const t = i === n - 1 ? 1 : i * step;
        const u = 1 - t;
        const at = (k: 0 | 1): number => u ** 3 * p0[k] + 3 * u ** 2 * t * p1[k] + 3 * u * t ** 2 * p2[k] + t ** 3 * p3[k];
        const cur: Pt = [at(0), at(1)];
        if (prev) layer.lines([prev, cur], p.width, ink);
        prev = cur;
      }
      return;
    }
    case 'mask_contour':
      for (const poly of p.polygons) {
        const pts = pointsOf(poly);
        for (let dx = -p.width; dx <= p.width; dx++) {
          for (let dy = -p.width; dy <= p.width; dy++) layer.polygon(pts.map(([x, y]) => [x + dx, y + dy] as Pt), ink, false);
        }
      }
      return;
    case 'mask':
      for (const poly of p.polygons) layer.polygon(pointsOf(poly), ink, true);
      return;
    case 'arrow': {
      const [cx, cy] = p.tip;
      const endX = cx + (p.length - p.head) * Math.cos(p.angle);
      const endY = cy + (p.length - p.head) * Math.sin(p.angle);
      if (p.wobble) {
        const mid: Pt = [(cx + endX) / 2 + p.wobble[0], (cy + endY) / 2 + p.wobble[1]];
        layer.lines([[cx, cy], mid, [endX, endY]], p.width, ink);
      } else {
        layer.lines([[cx, cy], [endX, endY]], p.width, ink);
      }
      const barb = (sign: 1 | -1): Pt => [cx + p.head * Math.cos(p.angle + (sign * Math.PI) / 3), cy + p.head * Math.sin(p.angle + (sign * Math.PI) / 3)];
      if (p.filledHead) layer.polygon([barb(1), [cx, cy], barb(-1)], ink, true);
      else layer.lines([barb(1), [cx, cy], barb(-1)], p.width, ink);
      return;
    }
  }
}
