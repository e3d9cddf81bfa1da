"""PyTorch + transformers on the bench checkpoint's vision path (CLIP tower + VipLlava projector), for npm run bench.

What a Python user runs: VipLlavaModel.get_image_features on one 336 px image, fp32 (and bf16 with --bf16), with
the benchmark's thread count. Only the vision tower and the projector are materialised (the language model stays
on the meta device), so the 7B checkpoint fits in memory. Prints one JSON line: {"fp32_s": median, ...}.

    python tools/bench_torch_vision.py CHECKPOINT_DIR --threads 2 --runs 3 [--bf16]
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from safetensors import safe_open
from transformers import VipLlavaConfig, VipLlavaForConditionalGeneration


def load_vision(checkpoint: Path):
    config = VipLlavaConfig.from_pretrained(checkpoint)
    with torch.device("meta"):
        model = VipLlavaForConditionalGeneration(config)
    parts = {"model.vision_tower.": model.model.vision_tower, "model.multi_modal_projector.": model.model.multi_modal_projector}
    for module in parts.values():
        module.to_empty(device="cpu")
    index = json.loads((checkpoint / "model.safetensors.index.json").read_text())["weight_map"]
    states = {prefix: {} for prefix in parts}
    for name, shard in index.items():
        for prefix in parts:
            if name.startswith(prefix):
                with safe_open(checkpoint / shard, "pt") as f:
                    states[prefix][name[len(prefix):]] = f.get_tensor(name).float()
    for prefix, module in parts.items():
        missing, unexpected = module.load_state_dict(states[prefix], strict=False)
        missing = [k for k in missing if "post_layernorm" not in k]
        assert not missing and not unexpected, (prefix, missing, unexpected)
    for name, buf in model.model.vision_tower.named_buffers():  # non-persistent buffers are not in the checkpoint
        if name.endswith("position_ids"):
            buf.copy_(torch.arange(buf.shape[-1]).expand_as(buf))
    return model.model


def median_seconds(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bf16", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_vision(args.checkpoint)
    size = model.config.vision_config.image_size
    pixels = torch.sin(torch.arange(3 * size * size, dtype=torch.float32)).reshape(1, 3, size, size) * 0.5
    out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    with torch.inference_mode():
        out["fp32_s"] = median_seconds(lambda: model.get_image_features(pixel_values=pixels), args.runs)
        if args.bf16:
            model.vision_tower.to(torch.bfloat16)
            model.multi_modal_projector.to(torch.bfloat16)
            out["bf16_s"] = median_seconds(lambda: model.get_image_features(pixel_values=pixels.bfloat16()), args.runs)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
