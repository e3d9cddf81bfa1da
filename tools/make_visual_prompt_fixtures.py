"""Reference renders of the eight ViP-LLaVA visual prompts, drawn by Pillow with the exact ImageDraw calls of the
original code (llava/visual_prompt_generator.py in WisconsinAIVision/ViP-LLaVA), for fixed parameters: the
random choices the original makes are given explicitly, so the TypeScript renderer can be compared pixel by
pixel.

    python tools/make_visual_prompt_fixtures.py      # Pillow 12.3.0

Writes tests/fixtures/goldens/visual_prompts/{cases.json, <case>.png (the RGBA layer), composite_<case>.png}.
"""

import json
import math
import os
import shutil
import sys

import numpy as np
import PIL
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vip_draw import render  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "goldens", "visual_prompts")


def cases():
    rng = np.random.RandomState(5)
    out = []

    def add(name, size, plan, color=(255, 0, 0), alpha=128):
        out.append({"name": name, "size": list(size), "plan": plan, "rgba": [*color, alpha]})

    poly_a = [120.5, 80.2, 260.7, 95.1, 300.3, 210.9, 180.4, 260.6, 95.8, 170.3]
    poly_b = [320.0, 200.0, 420.0, 190.0, 460.0, 300.0, 350.0, 330.0]
    concave = [60, 60, 200, 60, 200, 200, 130, 120, 60, 200]
    for size, tag in (((500, 375), "m"), ((200, 150), "s"), ((1000, 700), "l")):
        s = max(size) / 336
        k = size[0] / 500
        sc = lambda pts: [round(v * k, 3) for v in pts]
        add(f"rectangle_{tag}", size, {"shape": "rectangle", "box": sc([100.7, 60.2, 330.9, 240.6]), "width": max(int(3 * s), 1)})
        add(f"rectangle_wide_{tag}", size, {"shape": "rectangle", "box": sc([40, 30, 460, 345]), "width": max(int(8 * s), 1)}, (0, 0, 255), 200)
        add(f"ellipse_{tag}", size, {"shape": "ellipse", "box": sc([90.4, 50.8, 380.2, 300.9]), "width": max(int(5 * s), 1)}, (255, 165, 0), 255)
        add(f"ellipse_thin_{tag}", size, {"shape": "ellipse", "box": sc([200.1, 100.1, 260.7, 330.3]), "width": 1}, (0, 255, 0), 96)
        for w in (3, 6, 11):
            v = [[float(a) for a in rng.uniform([40 * k, 30 * k], [460 * k, 340 * k])] for _ in range(3)]
            add(f"triangle_w{w}_{tag}", size, {"shape": "triangle", "vertices": v, "width": max(int(w * s), 1)}, (255, 0, 255), 150)
        add(f"point_{tag}", size, {"shape": "point", "center": sc([250.3, 180.6]), "radius": max(int(8 * s), 1), "aspect": 1.0})
        add(f"point_oval_{tag}", size, {"shape": "point", "center": sc([140.9, 90.2]), "radius": max(int(15 * s), 1), "aspect": 1.7}, (0, 255, 255), 230)
        ctrl = [[float(a) for a in rng.uniform([50 * k, 40 * k], [450 * k, 330 * k])] for _ in range(4)]
        add(f"scribble_{tag}", size, {"shape": "scribble", "controls": ctrl, "samples": int(1000 * s), "width": max(int(6 * s), 1)}, (255, 215, 0), 180)
        add(f"scribble_thin_{tag}", size, {"shape": "scribble", "controls": ctrl[::-1], "samples": int(1000 * s), "width": 1}, (128, 0, 128), 255)
        add(f"mask_contour_{tag}", size, {"shape": "mask_contour", "polygons": [sc(poly_a), sc(poly_b)], "width": max(int(2 * s), 1)})
        add(f"mask_{tag}", size, {"shape": "mask", "polygons": [sc(poly_a), sc(poly_b), sc(concave)]}, (0, 0, 255), 100)
        for i, (filled, wobble) in enumerate(((True, None), (False, [3.2 * int(s), -4.1 * int(s)]), (True, [-2.5 * int(s), 1.5 * int(s)]), (False, None))):
            length = float(rng.uniform(30, 80)) * s
            add(f"arrow_{i}_{tag}", size, {
                "shape": "arrow", "tip": sc([240.7 + 20 * i, 160.3 + 10 * i]), "angle": float(rng.uniform(0, 2 * math.pi)),
                "length": length, "head": max(float(rng.uniform(0.2, 0.5)) * length, int(6 * s)),
                "wobble": wobble, "filledHead": filled, "width": max(int((2 + i) * s), 1),
            }, (255, 255, 0), 160)
    return out


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    all_cases = cases()
    # A smooth base that still takes every level in every channel: the composite checks the blending formula.
    y, x = np.mgrid[0:375, 0:500]
    base = Image.fromarray(np.stack([x % 256, y % 256, (x + 2 * y) % 256], axis=-1).astype(np.uint8))
    one_per_shape = {"rectangle_m", "ellipse_m", "triangle_w6_m", "point_oval_m", "scribble_m", "mask_contour_m", "mask_m", "arrow_0_m"}
    for c in all_cases:
        layer = render(tuple(c["size"]), c["plan"], tuple(c["rgba"]))
        layer.save(os.path.join(OUT, f"{c['name']}.png"), optimize=True)
        if c["name"] in one_per_shape:
            composite = Image.alpha_composite(base.convert("RGBA"), layer).convert("RGB")
            composite.save(os.path.join(OUT, f"composite_{c['name']}.png"))
    base.save(os.path.join(OUT, "base.png"))
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"pillow": PIL.__version__, "cases": all_cases}, f, indent=1)
    print(f"{len(all_cases)} visual prompt renders written")


if __name__ == "__main__":
    sys.exit(main())
