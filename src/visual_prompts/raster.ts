/**
 * Drawing onto an RGBA layer with Pillow's ImageDraw rules (libImaging/Draw.c, as the original ViP-LLaVA
 * code drew): coordinates are truncated to integers; pixels are written, not blended (a layer drawn with
 * ImageDraw.Draw on an RGBA image); lines of width 1 are Bresenham without their last point; wider lines are
 * quads filled by the scanline polygon filler; ellipses come from Pillow's integer quarter-curve stepping on a
 * doubled grid; filled pie slices clip those spans with half-planes. The algorithms are reimplemented here from
 * their description; the tests compare against Pillow's own renders.
 */

export type Rgba = readonly [number, number, number, number];
type Point = readonly [number, number];

const f32 = Math.fround;
/** C's (int) cast: truncation toward zero. */
const int = Math.trunc;
/** Pillow's ROUND_UP / ROUND_DOWN (symmetric around zero) and roundf (half away from zero). */
const roundUp = (f: number) => (f >= 0 ? Math.floor(f32(f + 0.5)) : -Math.floor(f32(Math.abs(f) + 0.5)));
const roundDown = (f: number) => (f >= 0 ? Math.ceil(f32(f - 0.5)) : -Math.ceil(f32(Math.abs(f) - 0.5)));
const roundf = (f: number) => (f >= 0 ? Math.floor(f + 0.5) : -Math.floor(-f + 0.5));
const lround = roundf;

interface Edge {
  x0: number;
  y0: number;
  xmin: number;
  xmax: number;
  ymin: number;
  ymax: number;
  dx: number;
}

function edge(x0: number, y0: number, x1: number, y1: number): Edge {
  return {
    x0,
    y0,
    xmin: Math.min(x0, x1),
    xmax: Math.max(x0, x1),
    ymin: Math.min(y0, y1),
    ymax: Math.max(y0, y1),
    dx: y0 === y1 ? 0 : f32(f32(x1 - x0) / (y1 - y0)),
  };
}

/** x of an edge at row y, in float32 as Pillow computes it. */
const edgeX = (e: Edge, y: number) => f32(f32((y - e.y0) * e.dx) + e.x0);

export class Layer {
  /** RGBA, 4 bytes per pixel, fully transparent at first. */
  readonly data: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Uint8Array(width * height * 4);
  }

  point(x: number, y: number, ink: Rgba): void {
    if (x >= 0 && x < this.width && y >= 0 && y < this.height) this.data.set(ink, (y * this.width + x) * 4);
  }

  hline(x0: number, y: number, x1: number, ink: Rgba): void {
    if (y < 0 || y >= this.height) return;
    if (x0 < 0) x0 = 0;
    else if (x0 >= this.width) return;
    if (x1 < 0) return;
    if (x1 >= this.width) x1 = this.width - 1;
    for (let x = x0; x <= x1; x++) this.data.set(ink, (y * this.width + x) * 4);
  }

  /** A 1-px Bresenham line from (x0, y0), not including (x1, y1). */
  line(x0: number, y0: number, x1: number, y1: number, ink: Rgba): void {
    let dx = x1 - x0;
    let dy = y1 - y0;
    const xs = dx < 0 ? -1 : 1;
    const ys = dy < 0 ? -1 : 1;
    dx = Math.abs(dx);
    dy = Math.abs(dy);
    if (dx === 0) {
      for (let i = 0; i < dy; i++, y0 += ys) this.point(x0, y0, ink);
    } else if (dy === 0) {
      for (let i = 0; i < dx; i++, x0 += xs) this.point(x0, y0, ink);
    } else if (dx > dy) {
      let e = 2 * dy - dx;
      for (let i = 0; i < dx; i++) {
        this.point(x0, y0, ink);
        if (e >= 0) {
          y0 += ys;
          e -= 2 * dx;
        }
        e += 2 * dy;
        x0 += xs;
      }
    } else {
      let e = 2 * dx - dy;
      for (let i = 0; i < dy; i++) {
        this.point(x0, y0, ink);
        if (e >= 0) {
          x0 += xs;
          e -= 2 * dy;
        }
        e += 2 * dx;
        y0 += ys;
      }
    }
  }

  /** The scanline filler (polygon_generic) over integer edges. */
  fillEdges(edges: Edge[], ink: Rgba): void {
    if (edges.length === 0) return;
    let ymin = this.height - 1;
    let ymax = 0;
    const table: Edge[] = [];
    for (const e of edges) {
      ymin = Math.min(ymin, e.ymin);
      ymax = Math.max(ymax, e.ymax);
      if (e.ymin === e.ymax) this.hline(e.xmin, e.ymin, e.xmax, ink);
      else table.push(e);
    }
    ymin = Math.max(ymin, 0);
    ymax = Math.min(ymax, this.height);
    for (let y = ymin; y <= ymax; y++) {
      const xx: number[] = [];
      table.forEach((e, i) => {
        if (y < e.ymin || y > e.ymax) return;
        xx.push(edgeX(e, y));
        if (y === e.ymax && y < ymax) {
          xx.push(xx[xx.length - 1]);
        } else if ((y === e.ymin || y === e.ymax) && e.dx !== 0) {
          // Join corners of edges meeting at this row, as Pillow does.
          for (let k = 0; k < i; k++) {
            const o = table[k];
            if ((y !== o.ymin && y !== o.ymax) || o.dx === 0) continue;
            if (roundf(xx[xx.length - 1]) !== roundf(edgeX(o, y))) continue;
            const offset = y === e.ymax ? -1 : 1;
            const adjacent = edgeX(e, y + offset);
            if (y + offset >= o.ymin && y + offset <= o.ymax) {
              const adjacentOther = edgeX(o, y + offset);
              const last = xx[xx.length - 1];
              if (last > adjacent + 1 && last > adjacentOther + 1) xx[xx.length - 1] = roundf(Math.max(adjacent, adjacentOther)) + 1;
              else if (last < adjacent - 1 && last < adjacentOther - 1) xx[xx.length - 1] = roundf(Math.min(adjacent, adjacentOther)) - 1;
              break;
            }
          }
        }
      });
      xx.sort((a, b) => a - b);
      for (let i = 1; i < xx.length; i += 2) this.hline(roundUp(xx[i - 1]), y, roundDown(xx[i]), ink);
    }
  }

  /** ImagingDrawWideLine: the segment's quad, offset by half the width rounded as Pillow rounds it. */
  wideLine(x0: number, y0: number, x1: number, y1: number, width: number, ink: Rgba): void {
    const dx = x1 - x0;
    const dy = y1 - y0;
    if (dx === 0 && dy === 0) {
      this.point(x0, y0, ink);
      return;
    }
    const big = Math.hypot(dx, dy);
    const small = (width - 1) / 2;
    const ratioMax = roundUp(small) / big;
    const ratioMin = roundDown(small) / big;
    const dxmin = roundDown(ratioMin * dy);
    const dxmax = roundDown(ratioMax * dy);
    const dymin = roundDown(ratioMin * dx);
    const dymax = roundDown(ratioMax * dx);
    const v: Point[] = [
      [x0 - dxmin, y0 + dymax],
      [x1 - dxmin, y1 + dymax],
      [x1 + dxmax, y1 - dymin],
      [x0 + dxmax, y0 - dymin],
    ];
    this.fillEdges([0, 1, 2, 3].map((i) => edge(v[i][0], v[i][1], v[(i + 1) % 4][0], v[(i + 1) % 4][1])), ink);
  }

  /** ImageDraw.line(xy, width, joint): segments, then round joints for joint "curve" and width > 4. */
  lines(points: readonly Point[], width: number, ink: Rgba, joint: 'curve' | null = null): void {
    if (width === 0 || points.length < 2) return;
    const p = points.map(([x, y]) => [int(x), int(y)] as const);
    if (width === 1) {
      for (let i = 0; i + 1 < p.length; i++) this.line(p[i][0], p[i][1], p[i + 1][0], p[i + 1][1], ink);
      this.point(p[p.length - 1][0], p[p.length - 1][1], ink);
    } else {
      for (let i = 0; i + 1 < p.length; i++) this.wideLine(p[i][0], p[i][1], p[i + 1][0], p[i + 1][1], width, ink);
    }
    if (joint !== 'curve' || width <= 4) return;
    for (let i = 1; i < points.length - 1; i++) {
      const point = points[i];
      const angles = [
        [points[i - 1], point],
        [point, points[i + 1]],
      ].map(([s, e]) => mod((Math.atan2(e[0] - s[0], s[1] - e[1]) * 180) / Math.PI, 360));
      if (angles[0] === angles[1]) continue;
      const flipped = (angles[1] > angles[0] && angles[1] - 180 > angles[0]) || (angles[1] < angles[0] && angles[1] + 180 > angles[0]);
      const box: [number, number, number, number] = [point[0] - width / 2 + 1, point[1] - width / 2 + 1, point[0] + width / 2 - 1, point[1] + width / 2 - 1];
      const [start, end] = flipped ? [angles[1] + 90, angles[0] + 90] : [angles[0] - 90, angles[1] - 90];
      this.pieslice(box, start - 90, end - 90, ink);
      if (width > 8) {
        const at = (angle: number): Point => {
          const a = ((angle - 90) * Math.PI) / 180;
          const d = width / 2 - 1;
          const off = (v: number) => (v > 0 ? Math.floor(v) : Math.ceil(v));
          return [point[0] + off(d * Math.cos(a)), point[1] + off(d * Math.sin(a))];
        };
        const gap = flipped ? [at(angles[0] + 90), point, at(angles[1] + 90)] : [at(angles[0] - 90), point, at(angles[1] - 90)];
        this.lines(gap, 3, ink);
      }
    }
  }

  /** ImageDraw.polygon: filled (scanline) or a 1-px outline. */
  polygon(points: readonly Point[], ink: Rgba, fill: boolean): void {
    if (points.length < 2) return;
    const p = points.map(([x, y]) => [int(x), int(y)] as const);
    if (!fill) {
      for (let i = 0; i < p.length; i++) {
        const q = p[(i + 1) % p.length];
        this.line(p[i][0], p[i][1], q[0], q[1], ink);
      }
      return;
    }
    const edges: Edge[] = [];
    let i = 0;
    for (; i < p.length - 1; i++) {
      const [x0, y0] = p[i];
      const [x1, y1] = p[i + 1];
      if (y0 === y1 && i !== 0 && y0 === p[i - 1][1]) {
        // A horizontal edge right after another one extends it.
        const last = edges[edges.length - 1];
        if (x1 > x0 && x0 > p[i - 1][0]) {
          last.xmax = x1;
          continue;
        } else if (x1 < x0 && x0 < p[i - 1][0]) {
          last.xmin = x1;
          continue;
        }
      }
      edges.push(edge(x0, y0, x1, y1));
    }
    if (p[i][0] !== p[0][0] || p[i][1] !== p[0][1]) edges.push(edge(p[i][0], p[i][1], p[0][0], p[0][1]));
    this.fillEdges(edges, ink);
  }

  /** ImageDraw.rectangle outline: `width` nested 1-px frames growing inward. */
  rectangleOutline(box: readonly [number, number, number, number], width: number, ink: Rgba): void {
    let [x0, y0, x1, y1] = box.map(int);
    if (y0 > y1) [y0, y1] = [y1, y0];
    if (width === 0) width = 1;
    for (let i = 0; i < width; i++) {
      this.hline(x0, y0 + i, x1, ink);
      this.hline(x0, y1 - i, x1, ink);
      this.line(x1 - i, y0 + width, x1 - i, y1 - width + 1, ink);
      this.line(x0 + i, y0 + width, x0 + i, y1 - width + 1, ink);
    }
  }

  /** ImageDraw.ellipse: filled, or an outline `width` pixels thick inside the box. */
  ellipse(box: readonly [number, number, number, number], ink: Rgba, fill: boolean, width = 1): void {
    const [x0, y0, x1, y1] = box.map(int);
    const a = x1 - x0;
    const b = y1 - y0;
    if (a < 0 || b < 0) return;
    for (const [X0, Y, X1] of ellipseSpans(a, b, fill ? a + b : width)) {
      this.hline(x0 + int((X0 + a) / 2), y0 + int((Y + b) / 2), x0 + int((X1 + a) / 2), ink);
    }
  }

  /** A filled pie slice from angle `start` to `end` (degrees, clockwise from 3 o'clock, float32 as Pillow). */
  pieslice(box: readonly [number, number, number, number], start: number, end: number, ink: Rgba): void {
    const [x0, y0, x1, y1] = box.map(int);
    const [al, ar] = normalizeAngles(f32(start), f32(end));
    if (al + 360 === ar) {
      this.ellipse([x0, y0, x1, y1], ink, true);
      return;
    }
    if (al === ar) return;
    const a = x1 - x0;
    const b = y1 - y0;
    if (a < 0 || b < 0) return;
    const xl = a * Math.cos((al * Math.PI) / 180);
    const xr = a * Math.cos((ar * Math.PI) / 180);
    const yl = b * Math.sin((al * Math.PI) / 180);
    const yr = b * Math.sin((ar * Math.PI) / 180);
    const left: HalfPlane = [-yl, xl, 0];
    const right: HalfPlane = [yr, -xr, 0];
    const spike: HalfPlane | null = ar - al < 90 ? [(xl + xr) / 2, (yl + yr) / 2, 0] : null;
    for (const [X0, Y, X1] of ellipseSpans(a, b, x1 + y1 - x0 - y0)) {
      const l = clip(left, X0, Y, X1);
      const r = clip(right, X0, Y, X1);
      let spans = ar - al < 180 ? intersect(l, r) : union(l, r);
      if (spike) spans = intersect(spans, clip(spike, X0, Y, X1));
      for (const [s, e] of spans) this.hline(x0 + int((s + a) / 2), y0 + int((Y + b) / 2), x0 + int((e + a) / 2), ink);
    }
  }
}

const mod = (v: number, m: number) => ((v % m) + m) % m;

/** Pillow's normalize_angles on float32 angles: 0 <= al < 360, al <= ar <= al + 360. */
function normalizeAngles(al: number, ar: number): [number, number] {
  if (f32(ar - al) >= 360) return [0, 360];
  const nl = f32((al < 0 ? 360 - (-al % 360) : al) % 360); // JS % is C's fmod
  const diff = ar < nl ? 360 - (f32(nl - ar) % 360) : f32(ar - nl);
  return [nl, f32(nl + (diff % 360))];
}

type HalfPlane = [number, number, number];
type Span = [number, number];

/** The part of segment [x0, x1] at row y where a·x + b·y + c >= 0 (Pillow's clip node). */
function clip([A, B, C]: HalfPlane, x0: number, y: number, x1: number): Span[] {
  const eps = 1e-9;
  if (Math.abs(A) < eps) {
    if (B * y + C < -eps) return [];
  } else {
    const ix = -(B * y + C) / A;
    if (A * x0 + B * y + C < eps) x0 = lround(Math.max(x0, ix));
    if (A * x1 + B * y + C < eps) x1 = lround(Math.min(x1, ix));
  }
  return x0 <= x1 ? [[x0, x1]] : [];
}

function intersect(a: Span[], b: Span[]): Span[] {
  const out: Span[] = [];
  for (const [s1, e1] of a) for (const [s2, e2] of b) if (Math.max(s1, s2) <= Math.min(e1, e2)) out.push([Math.max(s1, s2), Math.min(e1, e2)]);
  return out;
}

const union = (a: Span[], b: Span[]): Span[] => [...a, ...b];

/**
 * Horizontal spans of an ellipse of width a, height b on the doubled grid (Pillow's quarter_* and
 * ellipse_* state machines): an outline `w` half-steps thick, or filled when w >= a + b.
 */
function* ellipseSpans(a: number, b: number, w: number): Generator<[number, number, number]> {
  const outer = new Quarter(a, b);
  const first = outer.next();
  if (w < 1 || !first) return;
  const inner = new Quarter(a - 2 * (w - 1), b - 2 * (w - 1));
  const leftmost = a % 2;
  let [pr, py] = first;
  let pl = leftmost;
  let finished = false;
  while (!finished) {
    const y = py;
    let l = pl;
    const r = pr;
    let next: [number, number] | null;
    while ((next = outer.next()) && next[1] <= y) {
      /* skip points of the same row */
    }
    if (!next) finished = true;
    else [pr, py] = next;
    let innerNext: [number, number] | null;
    while ((innerNext = inner.next()) && innerNext[1] <= y) l = innerNext[0];
    pl = innerNext ? innerNext[0] : leftmost;
    const spans: Array<[number, number, number]> = [];
    if ((l > 0 || l < r) && y > 0) spans.push([l === 0 ? 2 : l, y, r]);
    if (y > 0) spans.push([-r, y, -l]);
    if (l > 0 || l < r) spans.push([l === 0 ? 2 : l, -y, r]);
    spans.push([-r, -y, -l]);
    // Pillow emits a row's buffered spans last-in first-out.
    for (let i = spans.length - 1; i >= 0; i--) yield spans[i];
  }
}

/** One quarter of an ellipse on the doubled integer grid, stepped like Bresenham. */
class Quarter {
  private cx = 0;
  private cy = 0;
  private ex = 0;
  private ey = 0;
  private a2 = 0;
  private b2 = 0;
  private a2b2 = 0;
  private finished: boolean;

  constructor(a: number, b: number) {
    this.finished = a < 0 || b < 0;
    if (this.finished) return;
    this.cx = a;
    this.cy = b % 2;
    this.ex = a % 2;
    this.ey = b;
    this.a2 = a * a;
    this.b2 = b * b;
    this.a2b2 = this.a2 * this.b2;
  }

  private delta(x: number, y: number): number {
    return Math.abs(this.a2 * y * y + this.b2 * x * x - this.a2b2);
  }

  next(): [number, number] | null {
    if (this.finished) return null;
    const out: [number, number] = [this.cx, this.cy];
    if (this.cx === this.ex && this.cy === this.ey) {
      this.finished = true;
    } else {
      let nx = this.cx;
      let ny = this.cy + 2;
      let nd = this.delta(nx, ny);
      if (nx > 1) {
        let d = this.delta(this.cx - 2, this.cy + 2);
        if (nd > d) {
          nx = this.cx - 2;
          ny = this.cy + 2;
          nd = d;
        }
        d = this.delta(this.cx - 2, this.cy);
        if (nd > d) {
          nx = this.cx - 2;
          ny = this.cy;
        }
      }
      this.cx = nx;
      this.cy = ny;
    }
    return out;
  }
}
