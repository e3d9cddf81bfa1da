"""Completes the shipped model folder (models/vip-llava-synthetic) and records transformers' answers on the
held-out split, the golden data for `vipllava eval` and the end-to-end tests.

    python tools/make_synthetic_goldens.py

1. Next to the weights and config written by tools/train_synthetic_vip.py, puts the processor files the way
   the hub's llava-hf/vip-llava checkpoints carry them: the Llama-2 tokenizer with <image> and <pad>, the
   vip-llava chat template and LlavaProcessor config (from tests/fixtures/tiny-llama), and a 336 px
   CLIPImageProcessor config.
2. For every held-out item, draws its visual prompt on the clean scene (tools/vip_draw.py, ViP-LLaVA's rules),
   builds the prompt with the processor's chat template, and answers greedily with
   VipLlavaForConditionalGeneration (fp32 compute from the fp16 weights, at most 5 new tokens).
   Writes data/synthetic/transformers_answers.json: the answers, and the SHA-256 of each prompted scene's RGB
   bytes as Pillow drew it (the TypeScript renderer must draw the same pixels).
"""

import hashlib
import json
import os
import shutil
import sys

import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, HERE)
from vip_draw import draw_prompt  # noqa: E402

import transformers  # noqa: E402
from transformers import AutoProcessor, VipLlavaForConditionalGeneration  # noqa: E402

MODEL = os.path.join(ROOT, "models", "vip-llava-synthetic")
TOKENIZER = os.path.join(ROOT, "tests", "fixtures", "tiny-llama")
HELDOUT = os.path.join(ROOT, "data", "synthetic", "heldout")
OUT = os.path.join(ROOT, "data", "synthetic", "transformers_answers.json")
MAX_NEW_TOKENS = 5


def save_processor() -> None:
    """The hub layout as llava-hf publishes it: tokenizer files, chat_template.json, processor_config.json and a
    preprocessor_config.json, here at 336 px."""
    for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.json", "processor_config.json"]:
        shutil.copyfile(os.path.join(TOKENIZER, name), os.path.join(MODEL, name))
    pre = json.load(open(os.path.join(TOKENIZER, "preprocessor_config.json")))
    pre["size"] = {"shortest_edge": 336}
    pre["crop_size"] = {"height": 336, "width": 336}
    with open(os.path.join(MODEL, "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=2)
        f.write("\n")


def main() -> None:
    save_processor()
    processor = AutoProcessor.from_pretrained(MODEL)
    model = VipLlavaForConditionalGeneration.from_pretrained(MODEL, dtype=torch.float32).eval()
    items = json.load(open(os.path.join(HELDOUT, "items.json")))["items"]
    answers, drawn = [], []
    for i, it in enumerate(items):
        image = draw_prompt(Image.open(os.path.join(HELDOUT, it["image"])).convert("RGB"), it["plan"], it["rgba"])
        drawn.append(hashlib.sha256(image.tobytes()).hexdigest())
        conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": it["question"]}]}]
        prompt = processor.apply_chat_template(conversation, add_generation_prompt=True)
        if i == 0:
            print(repr(prompt))
        inputs = processor(images=image, text=prompt, return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
        answers.append(processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    right = sum(a == it["answer"] for a, it in zip(answers, items))
    print(f"transformers: {right}/{len(items)} = {right / len(items):.4f} correct")
    with open(OUT, "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "max_new_tokens": MAX_NEW_TOKENS,
                   "answers": answers, "drawn_sha256": drawn}, f, indent=1)


if __name__ == "__main__":
    main()
