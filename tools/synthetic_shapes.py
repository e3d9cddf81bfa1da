"""A synthetic visual-prompt task in the spirit of ViP-Bench: scenes of coloured shapes, one region marked with
a visual prompt drawn by ViP-LLaVA's rules (tools/vip_draw.py; src/visual_prompts renders the same plans), and
the questions a person would ask about it. Seeded: the same seed gives the same examples.

    python tools/synthetic_shapes.py heldout     # writes the committed held-out split (data/synthetic/heldout)

Used by tools/train_synthetic_vip.py for training data (an endless stream from other seeds).
"""

import json
import math
import os
import random
import sys

from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vip_draw import draw_prompt, sample_plan  # noqa: E402

SIZE = 336
COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (40, 70, 220),
    "yellow": (240, 210, 30),
    "purple": (130, 40, 160),
    "white": (245, 245, 245),
}
SHAPES = ["circle", "square", "triangle", "star"]
COUNTS = ["one", "two", "three"]
PROMPT_COLOURS = {  # ViP-LLaVA's palette
    "red": (255, 0, 0), "lime": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0), "fuchsia": (255, 0, 255),
    "aqua": (0, 255, 255), "orange": (255, 165, 0), "purple": (128, 0, 128), "gold": (255, 215, 0),
}
PHRASE = {
    "rectangle": "within the {c} rectangle", "ellipse": "within the {c} ellipse", "arrow": "pointed to by the {c} arrow",
    "point": "at the {c} point", "scribble": "with the {c} scribble",
}
QUESTIONS = {
    "colour": ["What colour is the shape {p}?", "What color is the object {p}?", "Which colour is the shape {p}?"],
    "shape": ["What shape is {p}?", "What is the shape {p}?", "Which shape is {p}?"],
    "count": ["How many shapes are {p}?", "How many objects are {p}?", "Count the shapes {p}."],
}


def shape_polygon(kind, cx, cy, r, rot):
    """The outline of a shape of radius r (circle as a 24-gon, star with 5 points)."""
    if kind == "circle":
        n, radii = 24, [r]
    elif kind == "square":
        n, radii, rot = 4, [r * 1.15], rot + math.pi / 4
    elif kind == "triangle":
        n, radii = 3, [r * 1.2]
    else:
        n, radii = 10, [r * 1.25, r * 0.55]
    pts = []
    for i in range(n):
        a = rot + 2 * math.pi * i / n - math.pi / 2
        rr = radii[i % len(radii)]
        pts += [cx + rr * math.cos(a), cy + rr * math.sin(a)]
    return pts


def bounds(poly):
    return [min(poly[0::2]), min(poly[1::2]), max(poly[0::2]), max(poly[1::2])]


def background(rng):
    """A plain, gradient or striped background, and its two colours."""
    img = Image.new("RGB", (SIZE, SIZE))
    d = ImageDraw.Draw(img)
    base = [rng.randint(60, 200) for _ in range(3)]
    style = rng.choice(["solid", "vertical", "horizontal", "stripes"])
    other = [min(255, max(0, c + rng.randint(-50, 50))) for c in base]
    for i in range(SIZE):
        t = i / (SIZE - 1)
        col = tuple(int(a + (b - a) * t) for a, b in zip(base, other))
        if style == "solid":
            col = tuple(base)
        elif style == "stripes":
            col = tuple(base) if (i // 24) % 2 == 0 else tuple(other)
        if style == "horizontal":
            d.line([(i, 0), (i, SIZE - 1)], fill=col)
        else:
            d.line([(0, i), (SIZE - 1, i)], fill=col)
    return img, (tuple(base), tuple(other))


def overlaps(b, others, gap):
    return any(not (b[2] + gap < o[0] or o[2] + gap < b[0] or b[3] + gap < o[1] or o[3] + gap < b[1]) for o in others)


def distinct_colour(rng, avoid_rgb):
    """A shape colour that stands out from the background colours."""
    names = [n for n, c in COLOURS.items() if all(sum((a - b) ** 2 for a, b in zip(c, bg)) ** 0.5 >= 90 for bg in avoid_rgb)]
    return rng.choice(names or list(COLOURS))


def place(rng, inside, avoid, gap=14, tries=200, background_rgb=()):
    """A shape whose bounds lie inside `inside` and keep `gap` from every box in `avoid`."""
    for _ in range(tries):
        kind = rng.choice(SHAPES)
        r = rng.uniform(17, 32)
        cx = rng.uniform(inside[0] + r * 1.3, inside[2] - r * 1.3)
        cy = rng.uniform(inside[1] + r * 1.3, inside[3] - r * 1.3)
        poly = shape_polygon(kind, cx, cy, r, rng.uniform(0, 2 * math.pi) if kind != "circle" else 0)
        b = bounds(poly)
        if b[0] >= inside[0] and b[1] >= inside[1] and b[2] <= inside[2] and b[3] <= inside[3] and not overlaps(b, avoid, gap):
            return {"kind": kind, "colour": distinct_colour(rng, background_rgb), "polygon": poly, "bounds": b}
    return None


def example(rng: random.Random):
    """One scene, prompt and question. Returns (clean image, prompt plan, prompt rgba, question, answer, meta);
    meta["shapes"] lists the shapes drawn (kind, colour, polygon, whether the question is about it)."""
    while True:
        img, bg = background(rng)
        qtype = rng.choice(["colour", "shape", "count"])
        pshape = rng.choice(["rectangle", "ellipse"]) if qtype == "count" else rng.choice(list(PHRASE))
        shapes, region = [], None
        if qtype == "count":
            w, h = rng.uniform(110, 190), rng.uniform(110, 190)
            x0, y0 = rng.uniform(8, SIZE - w - 8), rng.uniform(8, SIZE - h - 8)
            region = [x0, y0, x0 + w, y0 + h]
            k = rng.randint(1, 3)
            for _ in range(k):
                s = place(rng, region, [t["bounds"] for t in shapes], gap=10, background_rgb=bg)
                if s is None:
                    break
                shapes.append(s)
            if len(shapes) != k:
                continue
            answer = COUNTS[k - 1]
            targets = shapes[:]
        else:
            s = place(rng, [6, 6, SIZE - 6, SIZE - 6], [], background_rgb=bg)
            shapes.append(s)
            targets = [s]
            answer = s["colour"] if qtype == "colour" else s["kind"]
            m = rng.uniform(5, 14)
            b = s["bounds"]
            region = [b[0] - m, b[1] - m, b[2] + m, b[3] + m]
        # Other shapes, away from the marked region (an ellipse may be drawn up to 1.5 times the region).
        cx, cy, hw, hh = (region[0] + region[2]) / 2, (region[1] + region[3]) / 2, (region[2] - region[0]) / 2, (region[3] - region[1]) / 2
        grow = 1.5 if pshape == "ellipse" else 1.0
        keep_out = [[cx - hw * grow, cy - hh * grow, cx + hw * grow, cy + hh * grow]] + [t["bounds"] for t in shapes]
        for _ in range(rng.randint(1, 4)):
            s = place(rng, [6, 6, SIZE - 6, SIZE - 6], keep_out, gap=16, background_rgb=bg)
            if s:
                shapes.append(s)
                keep_out.append(s["bounds"])
        break

    d = ImageDraw.Draw(img)
    for s in shapes:
        pts = [(s["polygon"][i], s["polygon"][i + 1]) for i in range(0, len(s["polygon"]), 2)]
        d.polygon(pts, fill=COLOURS[s["colour"]])
    style = rng.choice(["eval", "random"])
    target = targets[0]
    if pshape in ("rectangle", "ellipse", "arrow"):
        plan = sample_plan(rng, pshape, SIZE, style, box=region if pshape != "arrow" else target["bounds"])
    else:
        plan = sample_plan(rng, pshape, SIZE, style, polygon=target["polygon"])
    pname = rng.choice(list(PROMPT_COLOURS))
    alpha = 128 if style == "eval" else rng.randint(96, 255)
    rgba = [*PROMPT_COLOURS[pname], alpha]
    phrase = PHRASE[pshape].format(c=pname)
    question = rng.choice(QUESTIONS[qtype]).format(p=phrase)
    meta = {"type": qtype, "prompt_shape": pshape, "prompt_colour": pname, "style": style,
            "shapes": [{**s, "target": any(s is t for t in targets)} for s in shapes]}
    return img, plan, rgba, question, answer, meta


def heldout(out_dir, n=240, seed=20261127):
    """The held-out split: clean scenes as PNG, prompts as plans (drawn by the evaluator), questions, answers."""
    os.makedirs(out_dir, exist_ok=True)
    rng = random.Random(seed)
    items = []
    for i in range(n):
        img, plan, rgba, question, answer, meta = example(rng)
        del meta["shapes"]
        name = f"{i:04d}.png"
        img.save(os.path.join(out_dir, name), optimize=True)
        items.append({"image": name, "plan": plan, "rgba": rgba, "question": question, "answer": answer, **meta})
    with open(os.path.join(out_dir, "items.json"), "w") as f:
        json.dump({"seed": seed, "items": items}, f, indent=1)
    return items


if __name__ == "__main__":
    if sys.argv[1:] == ["heldout"]:
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
        items = heldout(os.path.join(root, "data", "synthetic", "heldout"))
        print(f"{len(items)} held-out items written")
        # A sample with its prompt drawn, for looking at.
        rng = random.Random(1)
        img, plan, rgba, q, a, meta = example(rng)
        draw_prompt(img, plan, rgba).save("/tmp/synthetic_sample.png")
        print(q, "->", a, meta)
    else:
        print(__doc__)
