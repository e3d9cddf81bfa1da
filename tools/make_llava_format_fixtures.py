"""A tiny checkpoint laid out like the original ViP-LLaVA releases (mucai/vip-llava-7b), its vision tower laid out
like openai/clip-vit-large-patch14-336, and what transformers computes with the same weights in its own layout.

* tests/fixtures/tiny-clip-tower: a random CLIPModel (quick_gelu, 10 vision layers so that hidden states -11..6
  exist) as openai's repository has it: CLIPConfig config.json, pytorch_model.bin (torch.save), an old-style
  preprocessor_config.json (integer size / crop_size, feature_extractor_type).
* tests/fixtures/tiny-vip-llava-7b: LlavaLlamaForCausalLM's files as LLaVA's trainer wrote them: a flat
  config.json (model_type llava_llama, mm_* fields, mm_vision_tower clip_4layers_336, image_aspect_ratio pad),
  generation_config.json, two pytorch_model-*.bin shards with pytorch_model.bin.index.json, the SentencePiece
  tokenizer.model (tests/fixtures/sentencepiece), tokenizer_config.json, special_tokens_map.json. Keys:
  model.embed_tokens / model.layers / model.norm / lm_head, model.mm_projector.clip_layernorm /
  .final_linear.0 / .final_linear.2, and the tower's copy under model.vision_tower.vision_tower.vision_model.
  Every parameter random (norms and biases too), stored as fp16.
* tests/fixtures/goldens/tiny-vip-llava-7b.{json,safetensors}: the model as transformers 5.18 computes it after
  the conversion transformers' convert_vipllava_weights_to_hf.py does (keys renamed, <image> 32000 and <pad> 32001
  added, the vocabulary padded to a multiple of 64 with rows drawn around the embeddings' mean), in fp32, on
  prompts made as the original eval does: conv llava_v1, tokenizer_image_token with transformers' LlamaTokenizer
  on tokenizer.model (the -200 placeholder becoming one image token per patch), expand2square with the CLIP mean
  colour then CLIPImageProcessor. Logits are compared over the original 32000 ids; greedy decoding keeps to them
  (the added rows are not tokens of the original model).

Run: python tools/make_llava_format_fixtures.py (transformers 5.18.0, torch, safetensors, sentencepiece).
tools/make_llava_backbone_fixtures.py builds the Llama-3 and Phi-3 variants on the same tower with these helpers.
"""
import json
import math
import os
import shutil
from collections import OrderedDict

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

import transformers
from transformers import (
    AutoTokenizer,
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    LlamaConfig,
    LlamaForCausalLM,
    LogitsProcessor,
    LogitsProcessorList,
    VipLlavaConfig,
    VipLlavaForConditionalGeneration,
)

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
TOWER = os.path.join(FIX, "tiny-clip-tower")
OUT = os.path.join(FIX, "tiny-vip-llava-7b")
VOCAB = 32000
SYSTEM = "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions."
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def randomise(model: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and ("norm" in name or "layrnorm" in name) and name.endswith("weight"):
                val = 1.0 + 0.1 * torch.randn(p.shape, generator=g)
            elif p.dim() >= 2:
                val = torch.randn(p.shape, generator=g) / math.sqrt(p.shape[-1])
                if "lm_head" in name:
                    val = val * 3.0
                if "embed_tokens" in name or "embedding" in name:
                    val = 0.5 * torch.randn(p.shape, generator=g)
            else:
                val = 0.1 * torch.randn(p.shape, generator=g)
            p.copy_(val)


def make_tower() -> CLIPModel:
    shutil.rmtree(TOWER, ignore_errors=True)
    os.makedirs(TOWER)
    config = CLIPConfig(
        text_config={"vocab_size": 99, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 16, "hidden_act": "quick_gelu"},
        vision_config={"hidden_size": 16, "intermediate_size": 40, "num_hidden_layers": 10, "num_attention_heads": 2, "image_size": 28, "patch_size": 14, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5},
        projection_dim=8,
    )
    model = CLIPModel(config)
    randomise(model, seed=4321)
    config.save_pretrained(TOWER)
    torch.save(OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items()), os.path.join(TOWER, "pytorch_model.bin"))
    json.dump(
        {"crop_size": 28, "do_center_crop": True, "do_normalize": True, "do_resize": True, "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": CLIP_MEAN, "image_std": CLIP_STD, "resample": 3, "size": 28},
        open(os.path.join(TOWER, "preprocessor_config.json"), "w"),
        indent=2,
    )
    return model


def make_checkpoint(tower: CLIPModel) -> dict:
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    text = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_key_value_heads": 4, "num_hidden_layers": 2, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "vocab_size": VOCAB}
    lm = LlamaForCausalLM(LlamaConfig(**text))
    randomise(lm, seed=77)
    vh = tower.config.vision_config.hidden_size
    g = torch.Generator().manual_seed(78)
    projector = OrderedDict(
        [
            ("model.mm_projector.clip_layernorm.weight", 1 + 0.1 * torch.randn(5 * vh, generator=g)),
            ("model.mm_projector.clip_layernorm.bias", 0.1 * torch.randn(5 * vh, generator=g)),
            ("model.mm_projector.final_linear.0.weight", torch.randn(32, 5 * vh, generator=g) / math.sqrt(5 * vh)),
            ("model.mm_projector.final_linear.0.bias", 0.1 * torch.randn(32, generator=g)),
            ("model.mm_projector.final_linear.2.weight", torch.randn(32, 32, generator=g) / math.sqrt(32)),
            ("model.mm_projector.final_linear.2.bias", 0.1 * torch.randn(32, generator=g)),
        ]
    )
    state = OrderedDict((k, v.detach().to(torch.float16)) for k, v in lm.state_dict().items())
    state.update((k, v.to(torch.float16)) for k, v in projector.items())
    state.update((f"model.vision_tower.vision_tower.{k}", v.detach().to(torch.float16)) for k, v in tower.state_dict().items() if k.startswith("vision_model."))
    names = list(state)
    halves = [names[: len(names) // 2], names[len(names) // 2 :]]
    weight_map = {}
    for i, part in enumerate(halves):
        file = f"pytorch_model-{i + 1:05d}-of-00002.bin"
        torch.save(OrderedDict((n, state[n].clone()) for n in part), os.path.join(OUT, file))
        weight_map.update({n: file for n in part})
    json.dump({"metadata": {"total_size": sum(t.numel() * 2 for t in state.values())}, "weight_map": weight_map}, open(os.path.join(OUT, "pytorch_model.bin.index.json"), "w"), indent=2)
    config = {
        "_name_or_path": "./checkpoints/vip-llava-7b-stage3",
        "architectures": ["LlavaLlamaForCausalLM"],
        "attention_bias": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "freeze_mm_mlp_adapter": False,
        "hidden_act": "silu",
        "image_aspect_ratio": "pad",
        "initializer_range": 0.02,
        "mm_hidden_size": 5 * vh,
        "mm_patch_merge_type": "flat",
        "mm_projector_lr": None,
        "mm_projector_type": "mlp2x_gelu",
        "mm_use_im_patch_token": False,
        "mm_use_im_start_end": False,
        "mm_vision_select_feature": "patch",
        "mm_vision_select_layer": -2,
        "mm_vision_tower": "clip_4layers_336",
        "model_type": "llava_llama",
        "pad_token_id": 0,
        "pretraining_tp": 1,
        "rope_scaling": None,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "tokenizer_model_max_length": 2048,
        "tokenizer_padding_side": "right",
        "torch_dtype": "float16",
        "transformers_version": "4.37.2",
        "tune_mm_mlp_adapter": False,
        "use_cache": True,
        "use_mm_proj": True,
        **{k: v for k, v in text.items()},
    }
    json.dump(config, open(os.path.join(OUT, "config.json"), "w"), indent=2)
    json.dump({"bos_token_id": 1, "eos_token_id": 2, "max_length": 4096, "pad_token_id": 0, "temperature": 0.9, "top_p": 0.6, "transformers_version": "4.37.2"}, open(os.path.join(OUT, "generation_config.json"), "w"), indent=2)
    shutil.copy(os.path.join(FIX, "sentencepiece", "tokenizer.model"), OUT)
    special = {"content": "", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
    json.dump(
        {
            "add_bos_token": True,
            "add_eos_token": False,
            "added_tokens_decoder": {str(i): {**special, "content": s} for i, s in enumerate(["<unk>", "<s>", "</s>"])},
            "bos_token": "<s>",
            "clean_up_tokenization_spaces": False,
            "eos_token": "</s>",
            "legacy": False,
            "model_max_length": 2048,
            "pad_token": "<unk>",
            "padding_side": "right",
            "sp_model_kwargs": {},
            "spaces_between_special_tokens": False,
            "tokenizer_class": "LlamaTokenizer",
            "unk_token": "<unk>",
            "use_default_system_prompt": False,
        },
        open(os.path.join(OUT, "tokenizer_config.json"), "w"),
        indent=2,
    )
    tok = lambda s: {"content": s, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}
    json.dump({"bos_token": tok("<s>"), "eos_token": tok("</s>"), "pad_token": "<unk>", "unk_token": tok("<unk>")}, open(os.path.join(OUT, "special_tokens_map.json"), "w"), indent=2)
    return {**state}


def hf_model(state: dict, tower: CLIPModel, text, vocab: int) -> VipLlavaForConditionalGeneration:
    """The conversion transformers' convert_vipllava_weights_to_hf.py makes, on the same (fp16-stored) weights:
    `text` is the text model's transformers config, `vocab` its vocabulary (the image token comes next)."""
    rename = [
        ("model.mm_projector.clip_layernorm.", "model.multi_modal_projector.projector_layernorm."),
        ("model.mm_projector.final_linear.0.", "model.multi_modal_projector.linear_1."),
        ("model.mm_projector.final_linear.2.", "model.multi_modal_projector.linear_2."),
        ("model.embed_tokens.", "model.language_model.embed_tokens."),
        ("model.layers.", "model.language_model.layers."),
        ("model.norm.", "model.language_model.norm."),
        ("model.vision_tower.vision_tower.vision_model.", "model.vision_tower."),
    ]
    hf_state = {}
    for k, v in state.items():
        for old, new in rename:
            if k.startswith(old):
                k = new + k[len(old) :]
                break
        hf_state[k] = v.to(torch.float32)
    config = VipLlavaConfig(text_config=text.to_dict(), vision_config=tower.config.vision_config.to_dict(), image_token_index=vocab, projector_layernorm_eps=1e-5)
    config.pad_token_id = vocab + 1
    model = VipLlavaForConditionalGeneration(config)
    missing, unexpected = model.load_state_dict(hf_state, strict=False)
    assert not unexpected, unexpected
    assert all("post_layernorm" in k for k in missing), missing
    post = {k[len("vision_model.") :]: v for k, v in tower.state_dict().items() if k.startswith("vision_model.post_layernorm")}
    model.model.vision_tower.post_layernorm.load_state_dict({k.split(".")[-1]: v for k, v in post.items()})
    # <image> and <pad>, the vocabulary padded to a multiple of 64, new rows around the embeddings' mean
    emb = model.model.language_model.embed_tokens.weight.data
    mu = emb.mean(0)
    sigma = ((emb - mu).T @ (emb - mu)) / emb.shape[0]
    dist = torch.distributions.MultivariateNormal(mu, covariance_matrix=1e-5 * sigma + 1e-9 * torch.eye(mu.shape[0]))
    torch.manual_seed(5)
    model.resize_token_embeddings(vocab + 2, 64)
    n = model.model.language_model.embed_tokens.weight.shape[0] - vocab
    model.model.language_model.embed_tokens.weight.data[vocab:] = torch.stack([dist.sample() for _ in range(n)])
    model.lm_head.weight.data[vocab:] = torch.stack([dist.sample() for _ in range(n)])
    return model.eval()


class KeepVocabulary(LogitsProcessor):
    """The original model has `size` logits (32000 here): the rows the conversion added are not among its choices."""

    def __init__(self, size: int = VOCAB):
        self.size = size

    def __call__(self, input_ids, scores):
        scores[:, self.size :] = -float("inf")
        return scores


def expand2square(img: Image.Image, background) -> Image.Image:
    w, h = img.size
    if w == h:
        return img
    side = max(w, h)
    out = Image.new(img.mode, (side, side), background)
    out.paste(img, (0, (side - h) // 2) if w > h else ((side - w) // 2, 0))
    return out


def tokenizer_image_token(prompt: str, tokenizer, image_ids: list) -> list:
    """llava/mm_utils.py's: chunks between <image> tokenized alone, the first BOS kept, each <image> → image_ids."""
    chunks = [tokenizer(c).input_ids for c in prompt.split("<image>")]
    offset = 1 if chunks and chunks[0] and chunks[0][0] == tokenizer.bos_token_id else 0
    ids = [chunks[0][0]] if offset else []
    for i, c in enumerate(chunks):
        if i > 0:
            ids += image_ids
        ids += c[offset:]
    return ids


def goldens(model: VipLlavaForConditionalGeneration) -> None:
    tokenizer = AutoTokenizer.from_pretrained(OUT)
    processor = CLIPImageProcessor.from_pretrained(TOWER)
    vc = model.config.vision_config
    per_image = (vc.image_size // vc.patch_size) ** 2
    image_ids = [VOCAB] * per_image
    images = ["tests/fixtures/images/demo.png", "docs/images/shapes.png"]
    background = tuple(int(x * 255) for x in processor.image_mean)
    root = os.path.join(FIX, "..", "..")
    pixels = []
    for path in images:
        img = expand2square(Image.open(os.path.join(root, path)).convert("RGB"), background)
        pixels.append(processor.preprocess(img, return_tensors="pt")["pixel_values"][0])
    pixel_values = torch.stack(pixels)
    questions = ["What is within the red rectangle?", "Describe the image.\nBe brief."]
    cases = []
    tensors = {"pixel_values": pixel_values}
    with torch.no_grad():
        for i, q in enumerate(questions):
            prompt = f"{SYSTEM} USER: <image>\n{q} ASSISTANT:"
            ids = tokenizer_image_token(prompt, tokenizer, image_ids)
            out = model(input_ids=torch.tensor([ids]), pixel_values=pixel_values[i : i + 1])
            tensors[f"logits_{i}"] = out.logits[0, -4:, :VOCAB]
            gen = model.generate(input_ids=torch.tensor([ids]), pixel_values=pixel_values[i : i + 1], max_new_tokens=10, do_sample=False, eos_token_id=2, pad_token_id=0, logits_processor=LogitsProcessorList([KeepVocabulary()]))
            new = gen[0, len(ids) :].tolist()
            cases.append({"image": images[i], "question": q, "prompt": prompt, "input_ids": ids, "new_tokens": new, "answer": tokenizer.decode(new, skip_special_tokens=True)})
        # a second turn: the answer closed with </s>, then USER again (legacy false: no "▁" after </s>)
        prompt = f"{SYSTEM} USER: <image>\n{questions[0]} ASSISTANT: a cat</s>USER: and the colour? ASSISTANT:"
        cases.append({"image": images[0], "prompt": prompt, "input_ids": tokenizer_image_token(prompt, tokenizer, image_ids)})
        feats = model.model.get_image_features(pixel_values).pooler_output
        tensors["image_features"] = feats
    meta = {"transformers_version": transformers.__version__, "image_tokens": per_image, "cases": cases}
    save_file({k: v.contiguous().to(torch.float32) for k, v in tensors.items()}, os.path.join(FIX, "goldens", "tiny-vip-llava-7b.safetensors"))
    json.dump(meta, open(os.path.join(FIX, "goldens", "tiny-vip-llava-7b.json"), "w"), indent=1)


def main():
    tower = make_tower()
    state = make_checkpoint(tower)
    # the tower as stored (fp32 in its .bin), the rest as the .bin shards hold it (fp16)
    state = {k: v for k, v in state.items() if not k.startswith("model.vision_tower.")}
    state.update((f"model.vision_tower.vision_tower.{k}", v) for k, v in tower.state_dict().items() if k.startswith("vision_model.") and "post_layernorm" not in k)
    lm = json.load(open(os.path.join(OUT, "config.json")))
    text = LlamaConfig(**{k: lm[k] for k in ["hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads", "num_hidden_layers", "max_position_embeddings", "rms_norm_eps", "vocab_size", "rope_theta"]})
    goldens(hf_model(state, tower, text, VOCAB))


if __name__ == "__main__":
    main()
