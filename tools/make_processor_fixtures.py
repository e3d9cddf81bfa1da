"""Processor fixtures and goldens: test images, the tokenizer / processor / chat-template files of both tiny
checkpoints, and what transformers' PIL-path processor, tokenizer and chat template produce for them.

Run after make_fixtures.py, from the repository root (same environment: transformers 5.18.0, Pillow 12.3.0):

    python tools/make_processor_fixtures.py

Writes tests/fixtures/images/*, tokenizer and processor files into tests/fixtures/tiny-{llama,mistral}/, and
tests/fixtures/goldens/processor/*.
"""

import io
import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np
import PIL
import torch
from PIL import Image
from safetensors.numpy import save_file

import transformers
from transformers import AutoTokenizer, LlavaProcessor, PreTrainedTokenizerFast, VipLlavaForConditionalGeneration
from transformers.image_utils import load_image
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
from tokenizers import AddedToken

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIX = os.path.join(ROOT, "tests", "fixtures")
IMAGES = os.path.join(FIX, "images")
GOLD = os.path.join(FIX, "goldens", "processor")
LLAMA2_TOKENIZER = os.path.join(FIX, "llama2_tokenizer.json")  # copied from shared/data/llama2_tokenizer.json

HUB_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'][0]['text'] }}"
    "{% elif message['role'] == 'user' %}{{ '###Human: '}}{% else %}{{ '###' + message['role'].title() + ': '}}"
    "{% endif %}{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}{# Render all text next #}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] }}{% endfor %}{% endfor %}{% if add_generation_prompt %}{{ '###Assistant:' }}{% endif %}"
)


# ---------------------------------------------------------------------------------------------------------------
# Test images


def pattern(h: int, w: int, seed: int, channels: int = 3) -> np.ndarray:
    """Smooth gradients, sharp edges and noise: a harsh case for resampling."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.zeros((h, w, channels))
    for c in range(channels):
        out[..., c] = 127 + 90 * np.sin(x / (7 + 3 * c) + y / (11 + c)) + 30 * np.cos((x * y) / (900 + 200 * c))
    out[(x // 16 + y // 16) % 2 == 0] += 40
    out += rng.normal(0, 12, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def png16(path: str, arr: np.ndarray) -> None:
    """A 16-bit RGB PNG (Pillow cannot write one)."""
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[r].astype(">u2").tobytes() for r in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def make_images() -> list:
    shutil.rmtree(IMAGES, ignore_errors=True)
    os.makedirs(IMAGES)
    names = []

    def save(name, img, **kw):
        img.save(os.path.join(IMAGES, name), **kw)
        names.append(name)

    save("photo.jpg", Image.fromarray(pattern(480, 640, 1)), quality=90)
    save("wide.png", Image.fromarray(pattern(300, 1024, 2)))
    save("portrait.png", Image.fromarray(pattern(517, 333, 3)))
    save("small.png", Image.fromarray(pattern(150, 200, 4)))
    save("tiny.png", Image.fromarray(pattern(3, 5, 5)))
    rgba = pattern(240, 300, 6, channels=4)
    rgba[:40, :, 3] = 0  # fully transparent band with colour data behind it
    save("rgba.png", Image.fromarray(rgba, "RGBA"))
    save("la.png", Image.fromarray(pattern(250, 180, 7, channels=2), "LA"))
    save("gray.png", Image.fromarray(pattern(250, 250, 8, channels=1)[..., 0], "L"))
    pal = Image.fromarray(pattern(160, 210, 9)).quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    save("palette.png", pal, transparency=0)
    g16 = (pattern(90, 120, 10, channels=1)[..., 0].astype(np.uint16) * 257)
    save("gray16.png", Image.fromarray(g16, "I;16"))
    png16(os.path.join(IMAGES, "rgb16.png"), pattern(100, 140, 11).astype(np.uint16) * 257 + 17)
    names.append("rgb16.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    save("exif_rotated.jpg", Image.fromarray(pattern(200, 320, 12)), quality=92, exif=exif)
    frames = [Image.fromarray(pattern(100, 150, 13 + i)).quantize(colors=32) for i in range(2)]
    frames[0].save(os.path.join(IMAGES, "anim.gif"), save_all=True, append_images=frames[1:], duration=100, loop=0)
    names.append("anim.gif")
    save("image.webp", Image.fromarray(pattern(180, 200, 15)), quality=80)
    save("image.tiff", Image.fromarray(pattern(120, 160, 16)), compression="tiff_lzw")
    save("image.bmp", Image.fromarray(pattern(130, 170, 17)))
    save("palette8.bmp", Image.fromarray(pattern(70, 90, 19)).quantize(colors=200))
    save("rgba32.bmp", Image.fromarray(pattern(60, 50, 20, channels=4), "RGBA"))
    save("mono1.bmp", Image.fromarray(pattern(41, 37, 21, channels=1)[..., 0] > 127))
    # A small demo picture: a scene with a red box drawn around one object.
    demo = Image.fromarray(pattern(240, 320, 18))
    from PIL import ImageDraw

    d = ImageDraw.Draw(demo)
    d.ellipse((180, 80, 260, 160), fill=(240, 200, 40))
    d.rectangle((170, 70, 270, 170), outline=(255, 0, 0), width=4)
    save("demo.png", demo)
    return names


# ---------------------------------------------------------------------------------------------------------------
# Tokenizer and processor files


def hub_tokenizer_files(out: str) -> None:
    """tokenizer.json as the Dec-2023 converter left it: the Llama-2 vocabulary plus <image>=32000, <pad>=32001,
    merges as "a b" strings; a 4.x tokenizer_config.json."""
    tok = json.load(open(LLAMA2_TOKENIZER))
    for i, content in ((32000, "<image>"), (32001, "<pad>")):
        tok["added_tokens"].append(
            {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
        )
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False)
    decoder = {
        str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}
        for t in tok["added_tokens"]
    }
    config = {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": decoder,
        "bos_token": "<s>",
        "clean_up_tokenization_spaces": False,
        "eos_token": "</s>",
        "legacy": False,
        "model_max_length": 4096,
        "pad_token": "<pad>",
        "padding_side": "left",
        "processor_class": "LlavaProcessor",
        "sp_model_kwargs": {},
        "tokenizer_class": "LlamaTokenizer",
        "unk_token": "<unk>",
        "use_default_system_prompt": False,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}, f, indent=2)
    with open(os.path.join(out, "chat_template.json"), "w") as f:
        json.dump({"chat_template": HUB_CHAT_TEMPLATE}, f, indent=2)


def preprocessor_json(size: int) -> dict:
    return {
        "crop_size": {"height": size, "width": size},
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_processor_type": "CLIPImageProcessor",
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "processor_class": "LlavaProcessor",
        "resample": 3,
        "rescale_factor": 0.00392156862745098,
        "size": {"shortest_edge": size},
    }


def make_checkpoint_processors() -> None:
    # tiny-llama: hub-era files written by hand, as on llava-hf/vip-llava-7b-hf.
    llama = os.path.join(FIX, "tiny-llama")
    hub_tokenizer_files(llama)
    with open(os.path.join(llama, "preprocessor_config.json"), "w") as f:
        json.dump(preprocessor_json(56), f, indent=2)
    with open(os.path.join(llama, "processor_config.json"), "w") as f:
        json.dump(
            {"image_token": "<image>", "num_additional_image_tokens": 1, "patch_size": 14,
             "processor_class": "LlavaProcessor", "vision_feature_select_strategy": "default"}, f, indent=2)
    # tiny-mistral: written by transformers 5.18's own save_pretrained (5.x formats).
    mistral = os.path.join(FIX, "tiny-mistral")
    tokenizer = AutoTokenizer.from_pretrained(llama)
    image_processor = CLIPImageProcessorPil(**{k: v for k, v in preprocessor_json(60).items() if k not in ("image_processor_type", "processor_class")})
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=12, vision_feature_select_strategy="default",
        num_additional_image_tokens=1, chat_template=HUB_CHAT_TEMPLATE, image_token="<image>",
    )
    processor.save_pretrained(mistral)


def load_processor(folder: str) -> LlavaProcessor:
    """transformers' processor for a fixture, with the PIL image backend (bit-exact reference)."""
    return LlavaProcessor.from_pretrained(folder, backend="pil")


# ---------------------------------------------------------------------------------------------------------------
# Goldens


def expand2square(img: Image.Image, background) -> Image.Image:
    """The original ViP-LLaVA / LLaVA `expand2square` (llava/mm_utils.py): centre on a square of the mean colour."""
    w, h = img.size
    if w == h:
        return img
    if w > h:
        result = Image.new(img.mode, (w, w), background)
        result.paste(img, (0, (w - h) // 2))
        return result
    result = Image.new(img.mode, (h, h), background)
    result.paste(img, ((h - w) // 2, 0))
    return result


# Resampling is checked bit-exactly at the hub's 336 px on these (down, up, odd, tiny, RGBA, EXIF, padded);
# every image goes through the tiny 56 px processor in full float32.
CROP336 = ["photo.jpg", "wide.png", "portrait.png", "small.png", "tiny.png", "rgba.png", "exif_rotated.jpg"]
PAD336 = ["wide.png", "portrait.png"]


def image_goldens(names: list) -> None:
    hub = CLIPImageProcessorPil(**{k: v for k, v in preprocessor_json(336).items() if k not in ("image_processor_type", "processor_class")})
    tiny = load_processor(os.path.join(FIX, "tiny-llama")).image_processor
    assert type(tiny).__name__ == "CLIPImageProcessorPil", type(tiny)
    crops, full = {}, {}
    meta = {"pillow": PIL.__version__, "transformers": transformers.__version__, "images": {}}
    mean_rgb = tuple(int(x * 255) for x in hub.image_mean)
    for name in names:
        img = load_image(os.path.join(IMAGES, name))  # exif_transpose + convert("RGB"), as transformers loads files
        # uint8 result of resize + centre crop at 336 (rescale/normalize off) — the bit-exact resampler check.
        if name in CROP336:
            u8 = hub(img, do_rescale=False, do_normalize=False, return_tensors="np")["pixel_values"][0]
            crops[name] = u8.astype(np.uint8)
        if name in PAD336:
            pad_u8 = hub(expand2square(img, mean_rgb), do_rescale=False, do_normalize=False, return_tensors="np")["pixel_values"][0]
            crops[f"pad:{name}"] = pad_u8.astype(np.uint8)
        full[name] = tiny(img, return_tensors="np")["pixel_values"][0].astype(np.float32)
        full[f"pad:{name}"] = tiny(expand2square(img, mean_rgb), return_tensors="np")["pixel_values"][0].astype(np.float32)
        meta["images"][name] = {"size": list(Image.open(os.path.join(IMAGES, name)).size), "mode": Image.open(os.path.join(IMAGES, name)).mode}
    # Every uint8 value through rescale + normalize, per channel (an image holding all 256 levels).
    levels = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    lut = hub(Image.fromarray(levels), do_resize=False, do_center_crop=False, return_tensors="np")["pixel_values"][0, :, 0, :]
    full["levels"] = lut.astype(np.float32)  # [3, 256]
    # The other Pillow filters, on a down- and an up-scale.
    src = load_image(os.path.join(IMAGES, "photo.jpg"))
    small = load_image(os.path.join(IMAGES, "small.png"))
    for filt in ("NEAREST", "LANCZOS", "BILINEAR", "BICUBIC", "BOX", "HAMMING"):
        f = getattr(Image.Resampling, filt)
        crops[f"filter:{filt}:down"] = np.ascontiguousarray(np.array(src.resize((97, 61), f)).transpose(2, 0, 1))
        crops[f"filter:{filt}:up"] = np.ascontiguousarray(np.array(small.resize((333, 251), f)).transpose(2, 0, 1))
    save_file({f"crop336/{k}": v for k, v in crops.items()}, os.path.join(GOLD, "crops336.safetensors"))
    save_file({f"pixels56/{k}": v for k, v in full.items()}, os.path.join(GOLD, "pixels56.safetensors"))
    meta["mean_rgb"] = list(mean_rgb)
    with open(os.path.join(GOLD, "images.json"), "w") as f:
        json.dump(meta, f, indent=1)


TOKENIZER_STRINGS = [
    "Hello world",
    "What is shown in this image?",
    "  leading spaces and  double  spaces",
    "line1\n\nline2\ttab",
    "emoji 🦙 and 日本語 and ü",
    "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.###Human: <image>\nWhat is this?###Assistant:",
    "<image><image> back-to-back, then <pad> and </s> literal",
    "",
    " ",
    "###Human: <image>\nWhat’s shown in this image?###Assistant:",
    "USER: <image>\nCan you please describe this image?\nASSISTANT:",
    "Numbers 1234567 and symbols @#$%^&*() ~ `code` <b>html</b>",
    "Ünïcödé façade — naïve café… “quotes” ½ ∑ 🧑‍🚀🏳️‍🌈",
    "<s> inside </s> text <unk>",
]


def tokenizer_goldens() -> None:
    out = {}
    for folder in ("tiny-llama", "tiny-mistral"):
        tok = AutoTokenizer.from_pretrained(os.path.join(FIX, folder))
        cases = []
        for s in TOKENIZER_STRINGS:
            enc = tok(s)
            ids = enc["input_ids"]
            cases.append({
                "text": s, "ids": ids, "tokens": tok.convert_ids_to_tokens(ids),
                "no_special_ids": tok(s, add_special_tokens=False)["input_ids"],
                "decoded": tok.decode(ids), "decoded_skip": tok.decode(ids, skip_special_tokens=True),
            })
        batch = ["Hello world", "What is shown in this image?", "<image>\nHi"]
        tok.padding_side = "left"
        left = tok(batch, padding=True)
        tok.padding_side = "right"
        right = tok(batch, padding=True)
        decode_cases = [[243, 162], [1, 953, 29877, 2397, 29871, 243, 162, 169, 156], [32000, 32000, 29871, 13, 1724], [2, 1, 32001, 15043], [29871], [13, 13]]
        out[folder] = {
            "class": type(tok).__name__,
            "cases": cases,
            "batch": {"texts": batch, "left": dict(left), "right": dict(right)},
            "decode": [{"ids": ids, "decoded": tok.decode(ids), "decoded_skip": tok.decode(ids, skip_special_tokens=True)} for ids in decode_cases],
        }
    with open(os.path.join(GOLD, "tokenizer.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)


CONVERSATIONS = {
    "single": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is shown in this image?"}]}],
    "seed_doc": [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What’s shown in this image?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "This image shows a red stop sign."}]},
        {"role": "user", "content": [{"type": "text", "text": "Describe the image in more details."}]},
    ],
    "system": [
        {"role": "system", "content": [{"type": "text", "text": "A chat between a curious human and an artificial intelligence assistant."}]},
        {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "image"}]},
    ],
    "two_images": [{"role": "user", "content": [{"type": "text", "text": "Compare "}, {"type": "image"}, {"type": "text", "text": "these."}, {"type": "image"}]}],
}


def processor_goldens(folders=("tiny-llama", "tiny-mistral")) -> None:
    """Writes the entries of `folders` into processor.json, keeping the other checkpoints' entries."""
    path = os.path.join(GOLD, "processor.json")
    out = json.load(open(path)) if os.path.exists(path) else {"templates": {}, "processor": {}}
    for folder in folders:
        proc = load_processor(os.path.join(FIX, folder))
        renders = {}
        for name, conv in CONVERSATIONS.items():
            renders[name] = {
                "generation": proc.apply_chat_template(conv, add_generation_prompt=True),
                "no_generation": proc.apply_chat_template(conv, add_generation_prompt=False),
            }
        out["templates"][folder] = renders
        img = [load_image(os.path.join(IMAGES, n)) for n in ("photo.jpg", "portrait.png", "rgba.png")]
        single_text = renders["single"]["generation"]
        proc.tokenizer.padding_side = "left"
        single = proc(text=single_text, images=img[:1], return_tensors="np")
        batch_texts = [renders["two_images"]["generation"], single_text]
        batch = proc(text=batch_texts, images=img[:2] + img[2:3], padding=True, return_tensors="np")
        out["processor"][folder] = {
            "single": {"text": single_text, "images": ["photo.jpg"], "input_ids": single["input_ids"].tolist(), "attention_mask": single["attention_mask"].tolist(), "pixel_values_shape": list(single["pixel_values"].shape)},
            "batch": {"text": batch_texts, "images": ["photo.jpg", "portrait.png", "rgba.png"], "input_ids": batch["input_ids"].tolist(), "attention_mask": batch["attention_mask"].tolist(), "pixel_values_shape": list(batch["pixel_values"].shape)},
        }
    with open(path, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)


def end_to_end_goldens() -> None:
    """Prompt + image through the processor, then greedy generate: what `vipllava generate` must print."""
    out = {}
    for folder, image in (("tiny-llama", "demo.png"), ("tiny-mistral", "photo.jpg")):
        path = os.path.join(FIX, folder)
        proc = load_processor(path)
        model = VipLlavaForConditionalGeneration.from_pretrained(path, dtype=torch.float32).eval()
        conv = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is inside the red box?"}]}]
        prompt = proc.apply_chat_template(conv, add_generation_prompt=True)
        inputs = proc(text=prompt, images=[load_image(os.path.join(IMAGES, image))], return_tensors="pt")
        with torch.no_grad():
            ids = model.generate(**inputs, max_new_tokens=12, do_sample=False)
        new = ids[0, inputs["input_ids"].shape[1]:].tolist()
        out[folder] = {"image": image, "prompt": prompt, "input_ids": inputs["input_ids"][0].tolist(), "new_ids": new,
                       "answer": proc.decode(new, skip_special_tokens=True)}
    with open(os.path.join(GOLD, "generate.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)


def main() -> None:
    os.makedirs(GOLD, exist_ok=True)
    names = make_images()
    make_checkpoint_processors()
    image_goldens(names)
    tokenizer_goldens()
    processor_goldens()
    end_to_end_goldens()
    print("processor fixtures written")


if __name__ == "__main__":
    sys.exit(main())
