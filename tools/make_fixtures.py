"""Build the tiny random VipLlava checkpoints and the golden outputs the TypeScript tests compare against.

Everything here comes from Hugging Face transformers itself (pinned below); the TypeScript code never writes
goldens. Run from the repository root:

    python tools/make_fixtures.py            # writes tests/fixtures/{tiny-llama,tiny-mistral,goldens,...}

Environment used for the committed fixtures: CPU torch 2.13.0, transformers 5.18.0, safetensors 0.8.0.

Two checkpoints, both with every parameter randomised (norms and biases too) and stored as fp16:

* tiny-llama: laid out like llava-hf/vip-llava-7b-hf. A minimal 4.x-style config.json that relies on class
  defaults (no rope keys, `torch_dtype`), hub "legacy" key names (`language_model.model.*`,
  `vision_tower.vision_model.*`), three safetensors shards plus `model.safetensors.index.json`.
  Llama text model with GQA, the five default vision feature layers, 56 px images / patch 14.
* tiny-mistral: written by transformers 5.18's own save_pretrained (5.x config spelling `dtype`,
  `rope_parameters`; vision tower saved without `vision_model.`), two shards. Mistral text model with a
  sliding window shorter than the prompt, an int feature layer, 60 px images / patch 12, GELU vision MLP.

Goldens are computed in fp32 by loading each fixture folder back with `from_pretrained(dtype=torch.float32)`,
so they describe exactly what transformers does with the files as committed.
"""

import json
import math
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

import transformers
from transformers import VipLlavaConfig, VipLlavaForConditionalGeneration
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
from transformers import LlamaConfig

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIX = os.path.join(ROOT, "tests", "fixtures")
IMAGE_TOKEN = 32000
PAD = 32001
VOCAB = 32064


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Give every parameter a random value: weights ~ N(0, 1/fan_in), norm weights ~ 1 + N(0, 0.1),
    biases and embeddings random too, so that a wrong key, a missing bias or a swapped norm shows up."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = p.shape
            if name.endswith("norm.weight") or "layer_norm" in name or "layrnorm" in name or name.endswith(
                "layernorm.weight"
            ):
                if name.endswith("bias"):
                    val = 0.1 * torch.randn(shape, generator=g)
                else:
                    val = 1.0 + 0.1 * torch.randn(shape, generator=g)
            elif name.endswith("bias"):
                val = 0.1 * torch.randn(shape, generator=g)
            elif "embed_tokens" in name or "position_embedding" in name or "class_embedding" in name:
                val = 0.5 * torch.randn(shape, generator=g)
            elif p.dim() >= 2:
                fan_in = int(torch.tensor(shape[1:]).prod())
                val = torch.randn(shape, generator=g) / math.sqrt(fan_in)
                if "lm_head" in name:
                    val = val * 3.0  # spread the logits so greedy choices are far from ties
            else:
                val = 0.1 * torch.randn(shape, generator=g)
            p.copy_(val)


def legacy_key(name: str) -> str:
    """5.18 in-memory name -> hub legacy name (what llava-hf/vip-llava-*-hf holds)."""
    if name.startswith("model.language_model."):
        return "language_model.model." + name[len("model.language_model.") :]
    if name == "lm_head.weight":
        return "language_model.lm_head.weight"
    if name.startswith("model.vision_tower."):
        return "vision_tower.vision_model." + name[len("model.vision_tower.") :]
    if name.startswith("model.multi_modal_projector."):
        return name[len("model.") :]
    raise ValueError(name)


def write_sharded(state: dict, out_dir: str, n_shards: int) -> None:
    """Write fp16 tensors into n_shards safetensors files with an index, as save_pretrained does."""
    names = list(state.keys())
    per = math.ceil(len(names) / n_shards)
    weight_map = {}
    total = 0
    for i in range(n_shards):
        fname = f"model-{i + 1:05d}-of-{n_shards:05d}.safetensors"
        chunk = {k: state[k].contiguous() for k in names[i * per : (i + 1) * per]}
        save_file(chunk, os.path.join(out_dir, fname), metadata={"format": "pt"})
        for k, v in chunk.items():
            weight_map[k] = fname
            total += v.numel() * v.element_size()
    with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def tensor_list(t: torch.Tensor):
    return t.detach().to(torch.float32).reshape(-1).tolist()


# ---------------------------------------------------------------------------------------------------------------
# Checkpoints


def make_tiny_llama() -> str:
    out = os.path.join(FIX, "tiny-llama")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    # Minimal, 4.x-era config: only keys that differ from the class defaults, as on the hub.
    config_json = {
        "architectures": ["VipLlavaForConditionalGeneration"],
        "ignore_index": -100,
        "image_token_index": IMAGE_TOKEN,
        "model_type": "vipllava",
        "pad_token_id": PAD,
        "projector_hidden_act": "gelu",
        "projector_layernorm_eps": 1e-05,
        "text_config": {
            "_name_or_path": "tiny-random-vicuna",
            "architectures": ["LlamaForCausalLM"],
            "hidden_size": 64,
            "intermediate_size": 96,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "num_hidden_layers": 2,
            "max_position_embeddings": 4096,
            "model_type": "llama",
            "rms_norm_eps": 1e-05,
            "torch_dtype": "float16",
            "vocab_size": VOCAB,
        },
        "torch_dtype": "float16",
        "transformers_version": "4.36.0.dev0",
        "vision_config": {
            "hidden_size": 32,
            "image_size": 56,
            "intermediate_size": 64,
            "model_type": "clip_vision_model",
            "num_attention_heads": 4,
            "num_hidden_layers": 12,
            "patch_size": 14,
            "projection_dim": 16,
            "vocab_size": 32000,
        },
        "vision_feature_layers": [-2, -5, -8, -11, 6],
        "vocab_size": VOCAB,
    }
    config = VipLlavaConfig(**json.loads(json.dumps(config_json)))
    model = VipLlavaForConditionalGeneration(config)
    randomise(model, seed=1234)
    state = {legacy_key(k): v.detach().to(torch.float16) for k, v in model.state_dict().items()}
    # The hub checkpoint also carries CLIP's unused post_layernorm; keep it so the loader must ignore it.
    assert any("post_layernorm" in k for k in state)
    write_sharded(state, out, 3)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config_json, f, indent=2)
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump({"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": PAD}, f, indent=2)
    # Key names as transformers 5.18 holds them in memory and as its save_pretrained writes them.
    model.save_pretrained("/tmp/tiny-llama-resaved")
    from safetensors import safe_open

    saved_keys = []
    for fn in sorted(os.listdir("/tmp/tiny-llama-resaved")):
        if fn.endswith(".safetensors"):
            with safe_open(os.path.join("/tmp/tiny-llama-resaved", fn), "pt") as f:
                saved_keys += list(f.keys())
    layouts = {
        "transformers_version": transformers.__version__,
        "hub_legacy": sorted(state.keys()),
        "in_memory_5x": sorted(model.state_dict().keys()),
        "saved_5x": sorted(saved_keys),
    }
    with open(os.path.join(FIX, "goldens", "key_layouts.json"), "w") as f:
        json.dump(layouts, f, indent=1)
    return out


def make_tiny_mistral() -> str:
    out = os.path.join(FIX, "tiny-mistral")
    shutil.rmtree(out, ignore_errors=True)
    config = VipLlavaConfig(
        vision_config={
            "model_type": "clip_vision_model",
            "hidden_size": 24,
            "intermediate_size": 48,
            "num_attention_heads": 2,
            "num_hidden_layers": 3,
            "image_size": 60,
            "patch_size": 12,
            "projection_dim": 8,
            "hidden_act": "gelu",
            "layer_norm_eps": 1e-6,
        },
        text_config={
            "model_type": "mistral",
            "hidden_size": 32,
            "intermediate_size": 80,
            "num_attention_heads": 4,
            "num_key_value_heads": 1,
            "num_hidden_layers": 2,
            "sliding_window": 8,
            "vocab_size": VOCAB,
            "max_position_embeddings": 512,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
        },
        vision_feature_layers=-2,
        projector_layernorm_eps=1e-6,
        image_token_index=IMAGE_TOKEN,
        pad_token_id=PAD,
    )
    model = VipLlavaForConditionalGeneration(config)
    randomise(model, seed=4321)
    model = model.to(torch.float16)
    model.save_pretrained(out, max_shard_size="1500KB")
    for fn in os.listdir(out):
        if fn.endswith(".safetensors"):
            pass
    return out


# ---------------------------------------------------------------------------------------------------------------
# Goldens


def goldens_for(name: str, folder: str, seed: int, *, image_token: int = IMAGE_TOKEN, pad: int = PAD, bos: int = 1,
                text_ids: tuple = (3, 31999), gen_kwargs: dict | None = None) -> None:
    """Parity goldens for one fixture. `text_ids` bounds the random prompt ids; `gen_kwargs` the generate() settings
    (default: eos 2 and the fixture's pad given explicitly; the backbone fixtures leave them to generation_config.json)."""
    torch.manual_seed(seed)
    model = VipLlavaForConditionalGeneration.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    cfg = model.config
    vc = cfg.vision_config
    n_img_tok = (vc.image_size // vc.patch_size) ** 2
    g = torch.Generator().manual_seed(seed)
    pixel_values = torch.randn(3, 3, vc.image_size, vc.image_size, generator=g)  # three images

    def ids(n):
        return torch.randint(text_ids[0], text_ids[1], (n,), generator=g).tolist()

    tensors = {"pixel_values": pixel_values}
    meta = {"name": name, "image_tokens": n_img_tok, "transformers_version": transformers.__version__}

    with torch.no_grad():
        # Vision tower hidden states (every tuple entry) and projector output for two images.
        vis = model.model.vision_tower(pixel_values[:2], output_hidden_states=True)
        tensors["vision_hidden_states"] = torch.stack(list(vis.hidden_states))  # [L+1, N, T, C]
        feats = model.model.get_image_features(pixel_values[:2]).pooler_output
        tensors["image_features"] = feats  # [N, T, H]

        # Single prompt with one image: full logits at chosen positions and a loss.
        prompt = [bos] + ids(4) + [image_token] * n_img_tok + ids(6)
        input_ids = torch.tensor([prompt])
        out = model(input_ids=input_ids, pixel_values=pixel_values[:1])
        S = len(prompt)
        positions = [0, 5, 5 + n_img_tok // 2, S - 3, S - 1]
        tensors["logits_single"] = out.logits[0, positions]
        meta["single"] = {"input_ids": prompt, "logit_positions": positions}
        labels = input_ids.clone()
        labels[0, :1] = -100
        labels[input_ids == image_token] = -100
        out_l = model(input_ids=input_ids, pixel_values=pixel_values[:1], labels=labels)
        meta["single"]["labels"] = labels[0].tolist()
        meta["single"]["loss"] = out_l.loss.item()
        # logits_to_keep = 2 gives the last two positions
        out_k = model(input_ids=input_ids, pixel_values=pixel_values[:1], logits_to_keep=2)
        tensors["logits_keep2"] = out_k.logits[0]

        # Batched, left-padded, with an attention mask (forward: positions are arange, as transformers does).
        p_a = [bos] + ids(3) + [image_token] * n_img_tok + ids(8)
        p_b = [bos] + ids(2) + [image_token] * n_img_tok + ids(3)
        L = max(len(p_a), len(p_b))
        batch = [[pad] * (L - len(p)) + p for p in (p_a, p_b)]
        mask = [[0] * (L - len(p)) + [1] * len(p) for p in (p_a, p_b)]
        out_b = model(
            input_ids=torch.tensor(batch), attention_mask=torch.tensor(mask), pixel_values=pixel_values[1:3]
        )
        tensors["logits_batch_last"] = out_b.logits[:, -1]
        meta["batch"] = {"input_ids": batch, "attention_mask": mask}

        # Greedy generation.
        if gen_kwargs is None:
            gen_kwargs = dict(max_new_tokens=12, do_sample=False, eos_token_id=2, pad_token_id=pad)
        gen = {}
        r = model.generate(input_ids=input_ids, pixel_values=pixel_values[:1], **gen_kwargs)
        gen["single"] = {"input_ids": prompt, "images": [0], "output": r[0].tolist()}
        r = model.generate(
            input_ids=torch.tensor(batch), attention_mask=torch.tensor(mask), pixel_values=pixel_values[1:3], **gen_kwargs
        )
        gen["batch"] = {"input_ids": batch, "attention_mask": mask, "images": [1, 2], "output": r.tolist()}
        two = [bos] + ids(2) + [image_token] * n_img_tok + ids(3) + [image_token] * n_img_tok + ids(4)
        r = model.generate(input_ids=torch.tensor([two]), pixel_values=pixel_values[[2, 0]], **gen_kwargs)
        gen["two_images"] = {"input_ids": two, "images": [2, 0], "output": r[0].tolist()}
        text = [bos] + ids(9)
        r = model.generate(input_ids=torch.tensor([text]), **gen_kwargs)
        gen["text_only"] = {"input_ids": text, "images": [], "output": r[0].tolist()}
        # A long text-only run: positions well past the sliding window, many decode steps through the cache.
        long_text = [bos] + ids(20)
        r = model.generate(input_ids=torch.tensor([long_text]), **{**gen_kwargs, "max_new_tokens": 24})
        gen["text_long"] = {"input_ids": long_text, "images": [], "output": r[0].tolist()}
        meta["generate"] = gen

        # The count check's message.
        try:
            model(input_ids=input_ids, pixel_values=pixel_values[:2])
            meta["mismatch_error"] = None
        except ValueError as e:
            meta["mismatch_error"] = str(e)

    save_file({k: v.contiguous().to(torch.float32) for k, v in tensors.items()}, os.path.join(FIX, "goldens", f"{name}.safetensors"))
    with open(os.path.join(FIX, "goldens", f"{name}.json"), "w") as f:
        json.dump(meta, f)


def rope_goldens() -> None:
    """inv_freq and attention scaling for every supported rope type, from transformers' own init functions."""
    cases = {
        "default": ({"rope_type": "default", "rope_theta": 10000.0}, None),
        "default_theta1e6": ({"rope_type": "default", "rope_theta": 1000000.0}, None),
        "linear": ({"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}, None),
        "dynamic_short": ({"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0}, 100),
        "dynamic_long": ({"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0}, 6000),
        "llama3": (
            {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192 // 4,
                "rope_theta": 500000.0,
            },
            None,
        ),
    }
    out = {}
    for name, (params, seq_len) in cases.items():
        cfg = LlamaConfig(
            hidden_size=4096, num_attention_heads=32, max_position_embeddings=4096, rope_parameters=dict(params)
        )
        fn = ROPE_INIT_FUNCTIONS.get(params["rope_type"])
        if fn is None:
            inv = 1.0 / (
                params["rope_theta"] ** (torch.arange(0, 128, 2, dtype=torch.int64).to(dtype=torch.float) / 128)
            )
            scale = 1.0
        else:
            inv, scale = fn(cfg, "cpu", seq_len=seq_len) if seq_len is not None else fn(cfg, "cpu")
        out[name] = {
            "rope_parameters": params,
            "head_dim": 128,
            "max_position_embeddings": 4096,
            "seq_len": seq_len,
            "inv_freq": inv.tolist(),
            "attention_scaling": scale,
        }
    with open(os.path.join(FIX, "goldens", "rope.json"), "w") as f:
        json.dump(out, f)


def rope_model_goldens() -> None:
    """The tiny Llama weights under scaled RoPE configs: last-position logits and greedy tokens. With
    max_position_embeddings 16, "dynamic" recomputes its frequencies at prefill and again at every decode step."""
    folder = os.path.join(FIX, "tiny-llama")
    base = json.load(open(os.path.join(folder, "config.json")))
    variants = {
        "linear": {"rope_scaling": {"type": "linear", "factor": 2.0}},
        "dynamic": {"rope_scaling": {"type": "dynamic", "factor": 2.0}, "max_position_embeddings": 16},
        "llama3": {
            "rope_parameters": {
                "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64, "rope_theta": 10000.0,
            }
        },
    }
    g = torch.Generator().manual_seed(99)
    prompt = [1] + torch.randint(3, 31999, (20,), generator=g).tolist()
    out, tensors = {"input_ids": prompt, "variants": {}}, {}
    for name, overrides in variants.items():
        cfg_json = json.loads(json.dumps(base))
        cfg_json["text_config"].update(overrides)
        config = VipLlavaConfig(**cfg_json)
        model = VipLlavaForConditionalGeneration.from_pretrained(folder, config=config, dtype=torch.float32).eval()
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([prompt])).logits[0, -1]
            model2 = VipLlavaForConditionalGeneration.from_pretrained(folder, config=config, dtype=torch.float32).eval()
            gen = model2.generate(
                input_ids=torch.tensor([prompt]), max_new_tokens=16, do_sample=False, eos_token_id=2, pad_token_id=PAD
            )
        tensors[f"{name}_last_logits"] = logits
        out["variants"][name] = {"text_config": overrides, "output": gen[0].tolist()}
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(FIX, "goldens", "rope_models.safetensors"))
    with open(os.path.join(FIX, "goldens", "rope_models.json"), "w") as f:
        json.dump(out, f)


def main() -> None:
    os.makedirs(os.path.join(FIX, "goldens"), exist_ok=True)
    torch.set_num_threads(2)
    llama = make_tiny_llama()
    mistral = make_tiny_mistral()
    goldens_for("tiny-llama", llama, seed=7)
    goldens_for("tiny-mistral", mistral, seed=8)
    rope_goldens()
    rope_model_goldens()
    print("fixtures written under", FIX)


if __name__ == "__main__":
    sys.exit(main())
