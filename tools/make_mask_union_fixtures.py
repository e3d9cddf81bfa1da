"""What the original ViP-LLaVA code makes of mask polygons through shapely, for tests/visual_prompts/union.test.ts.

image_blending turns each polygon into a shapely Polygon and takes `unary_union` of them; when that raises (GEOS's
TopologyException on a polygon whose boundary crosses itself), it sets the union to None and the ellipse and
triangle use the box. This records, per case: whether the union raised, its bounds, `contains` at sample points,
and the ellipse box the original computes (its draw_ellipse rule, size_ratio 1.25) from the union or the box.
Run from the repository root with shapely 2.1.2 (GEOS 3.13.1):

    python tools/make_mask_union_fixtures.py

Writes tests/fixtures/goldens/visual_prompts/mask_union.json.
"""

import json
import os
import random

import shapely
from shapely.geometry import Point, Polygon
from shapely.ops import unary_union

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "goldens", "visual_prompts", "mask_union.json")
BOX = [-2.0, -3.0, 61.0, 47.0]
RATIO = 1.25

BOW = [0, 0, 10, 10, 10, 0, 0, 10]
FAR = [30, 20, 45, 20, 45, 40, 30, 40]
OVER = [5, 2, 15, 2, 15, 8, 5, 8]
LOOP = [0, 0, 10, 0, 10, 10, 2, 10, 2, -5, 8, -5, 8, 12, 0, 12]
SPIKE = [0, 0, 10, 0, 10, 10, 5, 10, 5, 20, 5, 10, 0, 10]
TOUCH8 = [0, 0, 10, 0, 5, 5, 10, 10, 0, 10, 5, 5]
TINYBOW = [0, 0, 10, 10, 10, 0, 0, 10.0001]
SQUARE = [0, 0, 20, 0, 20, 20, 0, 20]


def random_sets(rng, count):
    out = []
    for _ in range(count):
        polys = []
        for _ in range(rng.choice([1, 2, 3])):
            ox, oy = rng.uniform(0, 20), rng.uniform(0, 10)
            polys.append([round(v, 3) for _ in range(rng.randint(3, 7)) for v in (ox + rng.uniform(0, 40), oy + rng.uniform(0, 35))])
        out.append(polys)
    return out


def ellipse_box(bounds):
    # draw_ellipse: centre of the bounds, both sides times size_ratio (aspect 1).
    minx, miny, maxx, maxy = bounds
    cx, cy = (maxx + minx) / 2, (maxy + miny) / 2
    w, h = (maxx - minx) * RATIO, (maxy - miny) * RATIO
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def case(name, flat_polys, rng):
    polys = [Polygon([(f[i], f[i + 1]) for i in range(0, len(f), 2)]) for f in flat_polys]
    try:
        union = unary_union(polys)
    except Exception as e:  # the original's bare except
        union, error = None, str(e).split(".")[0]
    else:
        error = None
    out = {"name": name, "polygons": flat_polys, "valid": [p.is_valid for p in polys], "union_raises": union is None}
    if union is not None:
        x0, y0, x1, y1 = union.bounds
        pts = [[rng.uniform(x0 - 1, x1 + 1), rng.uniform(y0 - 1, y1 + 1)] for _ in range(60)]
        out.update(bounds=list(union.bounds), points=pts, contains=[bool(union.contains(Point(*p))) for p in pts])
    else:
        out["error"] = error
    out["ellipse_box"] = ellipse_box(union.bounds if union is not None else BOX)
    return out


def main():
    rng = random.Random(7)
    named = {
        "single bow-tie": [BOW],
        "single self-overlapping loop": [LOOP],
        "single spike": [SPIKE],
        "bow-tie and a square far away": [BOW, FAR],
        "a square, then a bow-tie": [FAR, BOW],
        "bow-tie and an overlapping square": [BOW, OVER],
        "two bow-ties": [BOW, BOW],
        "a loop and a square": [LOOP, FAR],
        "a nearly degenerate bow-tie and a square": [TINYBOW, FAR],
        "a ring touching itself and a square": [TOUCH8, FAR],
        "two overlapping valid squares": [SQUARE, OVER],
        "three valid polygons": [SQUARE, FAR, [50, 0, 60, 0, 55, 9]],
    }
    cases = [case(k, v, rng) for k, v in named.items()]
    cases += [case(f"random set {i}", v, rng) for i, v in enumerate(random_sets(random.Random(11), 40))]
    meta = {"shapely": shapely.__version__, "geos": ".".join(map(str, shapely.geos_version)), "box": BOX, "size_ratio": RATIO}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"meta": meta, "cases": cases}, f, separators=(",", ":"))
    print(f"{len(cases)} cases, {sum(c['union_raises'] for c in cases)} where the union raises -> {OUT}")


if __name__ == "__main__":
    main()
