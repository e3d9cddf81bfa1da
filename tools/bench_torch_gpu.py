"""PyTorch / transformers on the shapes of `npm run bench:webgpu`, on the same GPU, for the side-by-side ratio.

Ops: F.linear in fp16 on the same (M, N, K) and SDPA on the same attention shapes. Model (--model DIR, the 7B
bench checkpoint): VipLlavaForConditionalGeneration in fp16 with SDPA attention — the vision tower on one image,
time to first token (one image + 50 text tokens), a 626-token prefill, greedy decode at batch 1 and 4 (tokens/s,
aggregate). Medians of --runs, CUDA-synchronised. Runs on the CPU too (float32 there), for a dry run.

    python tools/bench_torch_gpu.py [--shapes 7b|tiny] [--model DIR] [--runs 5]
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--shapes", default="7b")
p.add_argument("--model")
p.add_argument("--runs", type=int, default=5)
a = p.parse_args()

dev = "cuda" if torch.cuda.is_available() else "cpu"
dt = torch.float16 if dev == "cuda" else torch.float32
S = (
    dict(h=4096, mlp=11008, heads=32, d=128, vocab=32000, vh=1024, vheads=16, vmlp=4096)
    if a.shapes == "7b"
    else dict(h=256, mlp=688, heads=4, d=64, vocab=4000, vh=128, vheads=2, vmlp=512)
)


def sync():
    if dev == "cuda":
        torch.cuda.synchronize()


def median_time(fn, runs=a.runs):
    fn()
    sync()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


name = torch.cuda.get_device_name() if dev == "cuda" else "CPU"
print(f"torch {torch.__version__} on {name}, {dt}; {a.shapes} shapes; medians of {a.runs} runs\n")
with torch.inference_mode():
    for label, m, n, k in [
        (f"prefill qkvo 626x{S['h']}x{S['h']}", 626, S["h"], S["h"]),
        (f"prefill up 626x{S['mlp']}x{S['h']}", 626, S["mlp"], S["h"]),
        (f"prefill down 626x{S['h']}x{S['mlp']}", 626, S["h"], S["mlp"]),
        (f"vision fc1 577x{S['vmlp']}x{S['vh']}", 577, S["vmlp"], S["vh"]),
        (f"decode up 1x{S['mlp']}x{S['h']}", 1, S["mlp"], S["h"]),
        (f"decode up 4x{S['mlp']}x{S['h']}", 4, S["mlp"], S["h"]),
        (f"lm_head 1x{S['vocab']}x{S['h']}", 1, S["vocab"], S["h"]),
    ]:
        x = torch.randn(m, k, device=dev, dtype=dt)
        w = torch.randn(n, k, device=dev, dtype=dt) * 0.02
        t = median_time(lambda: F.linear(x, w))
        print(f"linear {label:<32} {t * 1e3:9.3f} ms {2 * m * n * k / t / 1e9:9.1f} GFLOP/s {n * k * w.element_size() / t / 1e9:8.1f} GB/s")
    for label, seq, kv, heads, d, causal in [
        (f"prefill 626, {S['heads']}x{S['d']}", 626, 626, S["heads"], S["d"], True),
        (f"vision 577, {S['vheads']}x64", 577, 577, S["vheads"], 64, False),
        (f"decode at 700, {S['heads']}x{S['d']}", 1, 700, S["heads"], S["d"], False),
    ]:
        q = torch.randn(1, heads, seq, d, device=dev, dtype=dt)
        k = torch.randn(1, heads, kv, d, device=dev, dtype=dt)
        t = median_time(lambda: F.scaled_dot_product_attention(q, k, k, is_causal=causal))
        print(f"attention {label:<29} {t * 1e3:9.3f} ms")

    if a.model:
        from transformers import VipLlavaForConditionalGeneration

        model = VipLlavaForConditionalGeneration.from_pretrained(a.model, torch_dtype=dt, attn_implementation="sdpa").to(dev).eval()
        c = model.config
        side = c.vision_config.image_size
        pixels = torch.randn(1, 3, side, side, device=dev, dtype=dt)
        t = median_time(lambda: model.get_image_features(pixel_values=pixels, vision_feature_layers=c.vision_feature_layers))
        print(f"\nvision tower (1 image)          {t * 1e3:9.2f} ms")
        n_img = (side // c.vision_config.patch_size) ** 2
        ids = torch.full((1, n_img + 50), 100, device=dev)
        ids[0, 1 : n_img + 1] = c.image_token_index
        t = median_time(lambda: model(input_ids=ids, pixel_values=pixels, logits_to_keep=1))
        print(f"time to first token (image + 50) {t * 1e3:9.2f} ms")
        text = torch.randint(100, 1000, (1, 626), device=dev)
        t = median_time(lambda: model(input_ids=text, logits_to_keep=1))
        print(f"prefill 626 text tokens          {t * 1e3:9.2f} ms")
        for rows in (1, 4):
            prompt = torch.randint(100, 1000, (rows, 32), device=dev)

            def decode():
                out = model(input_ids=prompt, use_cache=True)
                past, tok = out.past_key_values, out.logits[:, -1:].argmax(-1)
                sync()
                t0 = time.perf_counter()
                for _ in range(32):
                    out = model(input_ids=tok, past_key_values=past, use_cache=True)
                    past, tok = out.past_key_values, out.logits[:, -1:].argmax(-1)
                sync()
                return time.perf_counter() - t0

            decode()
            secs = statistics.median(decode() for _ in range(max(1, a.runs // 2)))
            print(f"decode batch {rows}                   {rows * 32 / secs:9.1f} tok/s")
