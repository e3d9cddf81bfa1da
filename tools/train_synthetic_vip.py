"""Trains the small VipLlava that ships with vipllava (models/vip-llava-synthetic) on the synthetic visual-prompt
task (tools/synthetic_shapes.py), with Hugging Face transformers' VipLlavaForConditionalGeneration.

Model: CLIP ViT at 336 px / patch 14 (10 layers, hidden 64; the five default feature layers -2, -5, -8, -11, 6),
the VipLlava projector, a 4-layer Llama (hidden 128) with the Llama-2 tokenizer plus <image> and <pad>: 9.7 M
parameters, 8.2 M of them in the embedding and LM head of the 32064-token vocabulary. Prompts are the
checkpoint's chat template ("###Human: <image>\n{question}###Assistant:"); the answer and </s> are the only
supervised tokens. A training-only probe on the projector's output (PatchHead, not saved) adds dense per-patch
targets (colour, kind, "asked about", shape centre): without it the answer loss sat at chance for a whole run.

    python tools/train_synthetic_vip.py --out OUT --minutes 7 --eval          # on the device machine (one GPU)
    python tools/train_synthetic_vip.py --out /tmp/x --minutes 0.2 --cpu --batch 2 --workers 0   # smoke test

The shipped weights took four calls of under ten minutes on one H200 (batch 64, ~12 steps/s), each resuming from
the previous call's fp16 checkpoint (the patch probe restarts each time):
    --minutes 7.6 --workers 14                                        (lr 1e-3)  held-out 52.5%
    --minutes 8   --workers 14 --lr 7e-4 --init models/vip-llava-synthetic    held-out 80.4%
    --minutes 8.4 --workers 14 --lr 5e-4 --init models/vip-llava-synthetic    held-out 93.3%
    --minutes 8.4 --workers 14 --lr 3e-4 --init models/vip-llava-synthetic    held-out 97.1%
then tools/make_synthetic_goldens.py added the tokenizer and processor files and transformers' answers.

Writes OUT/model/ (config, generation config, fp16 safetensors shards) and, with --eval, OUT/answers.json:
transformers' greedy answers on the committed held-out split (data/synthetic/heldout).
"""

import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, HERE)
from synthetic_shapes import COLOURS, SHAPES, example  # noqa: E402
from vip_draw import draw_prompt  # noqa: E402

from transformers import PreTrainedTokenizerFast, VipLlavaConfig, VipLlavaForConditionalGeneration  # noqa: E402

TOKENIZER_DIR = os.path.join(ROOT, "tests", "fixtures", "tiny-llama")
HELDOUT = os.path.join(ROOT, "data", "synthetic", "heldout")
IMAGE_TOKENS = 576
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def config() -> VipLlavaConfig:
    return VipLlavaConfig(
        vision_config={
            "model_type": "clip_vision_model", "hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 10,
            "num_attention_heads": 4, "image_size": 336, "patch_size": 14, "projection_dim": 64,
        },
        text_config={
            "model_type": "llama", "hidden_size": 128, "intermediate_size": 384, "num_hidden_layers": 4,
            "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 32064, "max_position_embeddings": 1024,
            "rms_norm_eps": 1e-5,
        },
        vision_feature_layers=[-2, -5, -8, -11, 6],
        image_token_index=32000,
        pad_token_id=32001,
    )


def prompt_text(question: str) -> str:
    return f"###Human: <image>\n{question}###Assistant:"


def pixels(image: Image.Image) -> np.ndarray:
    """CLIP normalisation of a 336x336 RGB image (resize and crop are no-ops at this size) -> [3, 336, 336]."""
    x = (np.asarray(image, dtype=np.float64) * (1 / 255)).astype(np.float32)
    return ((x - MEAN) / STD).transpose(2, 0, 1)


GRID = 24  # 336 / 14 patches a side
COLOUR_IDS = {name: i + 1 for i, name in enumerate(COLOURS)}  # 0: background
KIND_IDS = {name: i + 1 for i, name in enumerate(SHAPES)}


def patch_labels(shapes) -> np.ndarray:
    """Per-patch targets for the auxiliary loss -> [576, 4] int64: colour id and kind id of the shape under the
    patch centre, whether that shape is the one the question asks about, whether the patch holds a shape centre."""
    ids = Image.new("L", (336, 336), 0)
    d = ImageDraw.Draw(ids)
    for i, s in enumerate(shapes):
        d.polygon([(s["polygon"][j], s["polygon"][j + 1]) for j in range(0, len(s["polygon"]), 2)], fill=i + 1)
    centres = np.asarray(ids)[7::14, 7::14].reshape(-1)  # [576]: shape index + 1 at each patch centre
    out = np.zeros((GRID * GRID, 4), dtype=np.int64)
    for i, s in enumerate(shapes):
        at = centres == i + 1
        out[at, 0] = COLOUR_IDS[s["colour"]]
        out[at, 1] = KIND_IDS[s["kind"]]
        out[at, 2] = int(s["target"])
        b = s["bounds"]
        cx, cy = int((b[0] + b[2]) / 2 // 14), int((b[1] + b[3]) / 2 // 14)
        out[min(cy, GRID - 1) * GRID + min(cx, GRID - 1), 3] = 1 + int(s["target"])
    return out


class PatchHead(torch.nn.Module):
    """Training-only probe on the projector's output (it is not saved): dense per-patch supervision that gets the
    small vision tower past the long plateau where the answer loss alone gives it almost no signal."""

    def __init__(self, hidden):
        super().__init__()
        self.sizes = [len(COLOURS) + 1, len(SHAPES) + 1, 2, 3]
        self.proj = torch.nn.Linear(hidden, sum(self.sizes))

    def loss(self, features, labels):  # features [B, 576, H], labels [B, 576, 4]
        logits = self.proj(features.float()).split(self.sizes, dim=-1)
        return sum(torch.nn.functional.cross_entropy(l.reshape(-1, l.shape[-1]), labels[..., i].reshape(-1))
                   for i, l in enumerate(logits))


class Stream(torch.utils.data.IterableDataset):
    """Endless training examples; each worker draws from its own seed."""

    def __init__(self, seed: int):
        self.seed = seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = random.Random(self.seed * 1000 + (info.id if info else 0))
        tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(TOKENIZER_DIR, "tokenizer.json"))
        while True:
            img, plan, rgba, question, answer, meta = example(rng)
            text = prompt_text(question).replace("<image>", "<image>" * IMAGE_TOKENS)
            prompt_ids = tok(text)["input_ids"]
            full_ids = tok(text + " " + answer)["input_ids"] + [2]
            assert full_ids[: len(prompt_ids)] == prompt_ids, "the answer must extend the prompt's tokens"
            labels = [-100] * len(prompt_ids) + full_ids[len(prompt_ids):]
            # uint8 pixels cross from the workers (a quarter of float32's bytes); normalised on the GPU
            yield np.asarray(draw_prompt(img, plan, rgba)), full_ids, labels, patch_labels(meta["shapes"])


def collate(batch):
    length = max(len(ids) for _, ids, _, _ in batch)
    input_ids = torch.full((len(batch), length), 32001, dtype=torch.long)
    labels = torch.full((len(batch), length), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), length), dtype=torch.long)
    for i, (_, ids, lab, _) in enumerate(batch):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(lab)] = torch.tensor(lab)
        mask[i, : len(ids)] = 1
    patches = torch.from_numpy(np.stack([p for _, _, _, p in batch]))
    return torch.from_numpy(np.stack([p for p, _, _, _ in batch])), input_ids, mask, labels, patches


def answer_loss(model, px, ids, mask, labels):
    """The loss transformers computes from `labels` (shifted, -100 ignored, mean), with the LM head applied only
    at the few supervised positions instead of at all ~600 positions of every sequence."""
    hidden = model.model(input_ids=ids, attention_mask=mask, pixel_values=px).last_hidden_state  # [B, T, H]
    targets = labels[:, 1:]  # [B, T-1]: position t predicts token t+1
    keep = targets != -100
    logits = model.lm_head(hidden[:, :-1][keep])  # [n supervised, vocab]
    first = keep.float().cumsum(-1)[keep] == 1  # the first answer token of each sequence
    right = (logits.argmax(-1) == targets[keep])[first].float().mean()
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep]), right


@torch.no_grad()
def answer_questions(model, items, device, draw_from_plan=True):
    """Greedy answers (max 5 new tokens), one item at a time, as a user would ask."""
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(TOKENIZER_DIR, "tokenizer.json"))
    out = []
    for it in items:
        img = draw_prompt(Image.open(os.path.join(HELDOUT, it["image"])).convert("RGB"), it["plan"], it["rgba"]) if draw_from_plan else it["pil"]
        text = prompt_text(it["question"]).replace("<image>", "<image>" * IMAGE_TOKENS)
        ids = torch.tensor([tok(text)["input_ids"]], device=device)
        px = torch.from_numpy(pixels(img))[None].to(device)
        gen = model.generate(input_ids=ids, pixel_values=px, max_new_tokens=5, do_sample=False, eos_token_id=2, pad_token_id=32001)
        out.append(tok.decode(gen[0, ids.shape[1]:].tolist(), skip_special_tokens=True).strip())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=7.0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--workers", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cpu", action="store_true")
    ap.add_argument("--eval", action="store_true", help="answer the held-out split with the saved checkpoint")
    ap.add_argument("--aux", type=float, default=1.0, help="weight of the per-patch auxiliary loss")
    ap.add_argument("--eval-limit", type=int, help="answer only the first N held-out items")
    ap.add_argument("--init", help="start from this checkpoint folder instead of random weights")
    args = ap.parse_args()
    device = "cpu" if args.cpu else "cuda"
    torch.manual_seed(args.seed)

    model = (VipLlavaForConditionalGeneration.from_pretrained(args.init, dtype=torch.float32)
             if args.init else VipLlavaForConditionalGeneration(config())).to(device)
    model.train()
    print(f"parameters: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M", flush=True)
    loader = iter(torch.utils.data.DataLoader(
        Stream(args.seed), batch_size=args.batch, num_workers=args.workers, collate_fn=collate,
        pin_memory=not args.cpu, persistent_workers=args.workers > 0, prefetch_factor=4 if args.workers else None,
    ))
    head = PatchHead(model.config.text_config.hidden_size).to(device)
    captured = {}
    model.model.multi_modal_projector.register_forward_hook(lambda m, i, o: captured.__setitem__("features", o))
    opt = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    mean, std = torch.from_numpy(MEAN).to(device), torch.from_numpy(STD).to(device)
    budget = args.minutes * 60
    warmup = 300
    start = time.time()
    step = 0
    ema = None
    while time.time() - start < budget:
        rgb, ids, mask, labels, patches = (t.to(device, non_blocking=True) for t in next(loader))
        px = ((rgb.float() / 255 - mean) / std).permute(0, 3, 1, 2)  # [B, 336, 336, 3] -> [B, 3, 336, 336]
        frac = min(1.0, (time.time() - start) / budget)
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.autocast(device_type="cuda" if not args.cpu else "cpu", dtype=torch.bfloat16, enabled=not args.cpu):
            answer, right = answer_loss(model, px, ids, mask, labels)
            aux = head.loss(captured.pop("features"), patches)
        loss = answer + args.aux * aux
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        now = np.array([answer.item(), aux.item(), right.item()])
        ema = now if ema is None else 0.98 * ema + 0.02 * now
        if step % 200 == 0:
            print(f"step {step} t={time.time() - start:.0f}s lr={lr:.2e} answer loss={ema[0]:.4f} patch loss={ema[1]:.4f}"
                  f" first-token accuracy={ema[2]:.3f}", flush=True)
        step += 1
    print(f"trained {step} steps in {time.time() - start:.0f}s, answer loss {ema[0]:.4f}, first-token accuracy {ema[2]:.3f}", flush=True)

    model_dir = os.path.join(args.out, "model")
    model.eval()
    model.to(torch.float16).save_pretrained(model_dir, max_shard_size="9MB")
    print("saved", sorted(os.listdir(model_dir)), flush=True)

    if args.eval:
        items = json.load(open(os.path.join(HELDOUT, "items.json")))["items"][: args.eval_limit]
        fp32 = VipLlavaForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32).to(device).eval()
        answers = answer_questions(fp32, items, device)
        right = sum(a == it["answer"] for a, it in zip(answers, items))
        print(f"held-out accuracy (transformers, fp32 from the fp16 checkpoint): {right}/{len(items)} = {right / len(items):.3f}", flush=True)
        by = {}
        for a, it in zip(answers, items):
            for key in (f"type:{it['type']}", f"shape:{it['prompt_shape']}"):
                ok, n = by.get(key, (0, 0))
                by[key] = (ok + (a == it["answer"]), n + 1)
        for key, (ok, n) in sorted(by.items()):
            print(f"  {key}: {ok}/{n} = {ok / n:.3f}")
        with open(os.path.join(args.out, "answers.json"), "w") as f:
            json.dump({"transformers": __import__("transformers").__version__, "torch": torch.__version__, "device": device,
                       "answers": answers}, f, indent=1)


if __name__ == "__main__":
    main()
