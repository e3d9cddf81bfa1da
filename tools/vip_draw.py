"""Visual prompts drawn with Pillow exactly as ViP-LLaVA's original code draws them
(llava/visual_prompt_generator.py), for an explicit "plan" of the random choices, and the sampling of those
choices with Python's random module in the original's ranges. Shared by the fixture and training-data scripts;
the TypeScript library (src/visual_prompts) renders the same plans pixel for pixel.
"""

import math
import random

import numpy as np
from PIL import Image, ImageDraw


def render(size, plan, rgba):
    """The original's drawing functions with their random draws replaced by the plan's values."""
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    shape = plan["shape"]
    if shape == "rectangle":
        left, top, right, bottom = plan["box"]
        d.rectangle([(left, top), (right, bottom)], outline=rgba, width=plan["width"])
    elif shape == "ellipse":
        d.ellipse(plan["box"], outline=rgba, width=plan["width"])
    elif shape == "triangle":
        p = [tuple(v) for v in plan["vertices"]]
        d.line([p[0], p[1], p[2], p[0]], fill=rgba, width=plan["width"], joint="curve")
    elif shape == "point":
        cx, cy = plan["center"]
        xr = plan["radius"] * plan["aspect"]
        yr = plan["radius"] / plan["aspect"]
        d.ellipse([cx - xr, cy - yr, cx + xr, cy + yr], outline=rgba, fill=rgba)
    elif shape == "scribble":
        p0, p1, p2, p3 = plan["controls"]
        prev = None
        for t in np.linspace(0, 1, plan["samples"]):
            x = (1 - t) ** 3 * p0[0] + 3 * (1 - t) ** 2 * t * p1[0] + 3 * (1 - t) * t**2 * p2[0] + t**3 * p3[0]
            y = (1 - t) ** 3 * p0[1] + 3 * (1 - t) ** 2 * t * p1[1] + 3 * (1 - t) * t**2 * p2[1] + t**3 * p3[1]
            cur = (x, y)
            if prev:
                d.line([prev, cur], fill=rgba, width=plan["width"])
            prev = cur
    elif shape == "mask_contour":
        w = plan["width"]
        for seg in plan["polygons"]:
            coords = [(seg[i], seg[i + 1]) for i in range(0, len(seg), 2)]
            for dx in range(-w, w + 1):
                for dy in range(-w, w + 1):
                    d.polygon([(x + dx, y + dy) for x, y in coords], outline=rgba)
    elif shape == "mask":
        for seg in plan["polygons"]:
            coords = [(seg[i], seg[i + 1]) for i in range(0, len(seg), 2)]
            d.polygon(coords, outline=None, fill=rgba, width=1)
    elif shape == "arrow":
        cx, cy = plan["tip"]
        angle, length, head = plan["angle"], plan["length"], plan["head"]
        end_x = cx + (length - head) * math.cos(angle)
        end_y = cy + (length - head) * math.sin(angle)
        if plan["wobble"] is not None:
            mid_x = (cx + end_x) / 2 + plan["wobble"][0]
            mid_y = (cy + end_y) / 2 + plan["wobble"][1]
            d.line([(cx, cy), (mid_x, mid_y), (end_x, end_y)], fill=rgba, width=plan["width"])
        else:
            d.line([(cx, cy), (end_x, end_y)], fill=rgba, width=plan["width"])
        b1 = (cx + head * math.cos(angle + math.pi / 3), cy + head * math.sin(angle + math.pi / 3))
        b2 = (cx + head * math.cos(angle - math.pi / 3), cy + head * math.sin(angle - math.pi / 3))
        if plan["filledHead"]:
            d.polygon([b1, (cx, cy), b2], fill=rgba)
        else:
            d.line([b1, (cx, cy), b2], fill=rgba, width=plan["width"])
    return layer


def _polygon_contains(poly, x, y):
    inside = False
    n = len(poly) // 2
    j = n - 1
    for i in range(n):
        xi, yi, xj, yj = poly[2 * i], poly[2 * i + 1], poly[2 * j], poly[2 * j + 1]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _bounds(poly):
    xs, ys = poly[0::2], poly[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _point_in_polygon(rng, poly):
    x0, y0, x1, y1 = _bounds(poly)
    for trial in range(51):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if trial >= 50 or _polygon_contains(poly, x, y):
            return [x, y]


def sample_plan(rng: random.Random, shape, max_side, style, box=None, polygon=None):
    """The original image_blending's random choices for one prompt (s = max_side / 336)."""
    s = max_side / 336
    sized = lambda lo, hi: max(rng.randint(int(lo * s), int(hi * s)), 1)
    if shape == "rectangle":
        return {"shape": shape, "box": list(box), "width": max(int(3 * s), 1) if style == "eval" else sized(2, 8)}
    if shape == "ellipse":
        width = sized(2, 8)
        x0, y0, x1, y1 = box
        ratio = rng.uniform(1, 1.5)
        cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * ratio, (y1 - y0) * ratio
        return {"shape": shape, "box": [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], "width": width}
    if shape == "point":
        radius = max(int(8 * s), 1) if style == "eval" else sized(5, 20)
        aspect = 1.0 if rng.random() < 0.5 or style == "eval" else rng.uniform(0.5, 2.0)
        x0, y0, x1, y1 = _bounds(polygon)
        draw = lambda: [(x0 + x1) / 2 + math.sqrt((x1 - x0) / 8) * rng.gauss(0, 1), (y0 + y1) / 2 + math.sqrt((y1 - y0) / 8) * rng.gauss(0, 1)]
        center = draw()
        for _ in range(10):
            if _polygon_contains(polygon, *center):
                break
            center = draw()
        return {"shape": shape, "center": center, "radius": radius, "aspect": aspect}
    if shape == "scribble":
        width = sized(2, 12)
        controls = [_point_in_polygon(rng, polygon) for _ in range(4)]
        return {"shape": shape, "controls": controls, "samples": int(1000 * s), "width": width}
    if shape == "arrow":
        width = sized(1, 6)
        max_len = max(int(50 * s), 1)
        x0, y0, x1, y1 = box
        side = min(x1 - x0, y1 - y0)
        length = rng.uniform(0.8 * side, max_len)
        angle = rng.uniform(0, 2 * math.pi)
        tip = [(x0 + x1) / 2 + rng.uniform(-0.25, 0.25) * (x1 - x0), (y0 + y1) / 2 + rng.uniform(-0.25, 0.25) * (y1 - y0)]
        head = max(rng.uniform(0.2, 0.5) * length, int(6 * max_side / 336))
        wobble = [rng.uniform(-5, 5) * int(s), rng.uniform(-5, 5) * int(s)] if rng.random() < 0.5 else None
        return {"shape": shape, "tip": tip, "angle": angle, "length": length, "head": head, "wobble": wobble,
                "filledHead": rng.random() < 0.5, "width": width}
    raise ValueError(shape)


def draw_prompt(image: Image.Image, plan, rgba):
    """The prompt's layer alpha-composited onto the image (RGB in, RGB out), as image_blending does."""
    layer = render(image.size, plan, tuple(rgba))
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")
