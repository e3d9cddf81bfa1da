"""The Llama-3 and Phi-3 checkpoints of ViP-LLaVA's backbone study (mucai/vip-llava-llama-3-8b and
mucai/vip-llava-phi-3-mini-3.8B) in tiny, laid out as LLaVA's trainer leaves them, and what the original eval
(llava/eval/model_vqa.py) gives on them, computed with transformers 5.18 on the same weights in its own layout.

The layout follows the code that wrote those repositories (ViP-LLaVA's llava/train/train.py under the
transformers 4.37.2 its pyproject.toml pins; scripts/finetune_vip_llava_{llama3,phi3}_stage3.sh):
* weights: safetensors shards + model.safetensors.index.json. The trainer saves through Trainer._save, i.e.
  save_pretrained(safe_serialization=args.save_safetensors), and save_safetensors defaults to True since
  transformers 4.35 (mucai/vip-llava-7b, trained with 4.31, has .bin shards). Keys as LlavaLlamaForCausalLM /
  LlavaPhi3ForCausalLM name them (the repo's modeling_phi3 has qkv_proj / gate_up_proj), the tower's copy under
  model.vision_tower.vision_tower.vision_model. Every parameter random, stored as fp16 (the real ones are bf16:
  the scripts train with --bf16).
* config.json: the base model's text fields plus LLaVA's mm_* fields (mm_vision_tower clip_4layers_336,
  image_aspect_ratio pad, tokenizer_model_max_length 2048, ...), model_type llava_llama / llava_phi3.
* Llama-3 (Meta-Llama-3-8B-Instruct as downloaded for training in April 2024): tokenizer.json (a fast-only
  tokenizer, so train.py's use_fast=False still saves tokenizer.json) with the trainer's `<pad>` appended past
  the vocabulary (train.py adds it when pad_token is None, then sets pad_token = unk_token = None), eos
  <|end_of_text|>; config.json eos 128001-equivalent; generation_config.json lists only that eos.
  Here: a 2000-token byte-level BPE (tiny-llama3's), Llama-3's 256 special tokens after it, <pad> after those.
* Phi-3 (Phi-3-mini-4k-instruct of April 2024): train.py loads it with use_fast=False, i.e. the SentencePiece
  LlamaTokenizer, whose save leaves tokenizer.model, added_tokens.json, tokenizer_config.json (added tokens
  32000-32010 with Phi-3's rstrip flags, legacy false, pad_token <unk>) and special_tokens_map.json, no
  tokenizer.json. generation_config.json stops on [32000, 32001, 32007] as Phi-3's did.

What the eval does with them (llava/model/builder.py, llava/eval/model_vqa.py):
* the conversation: conv_llava_llama_3 / conv_llava_phi_3 chosen by "llama-3" / "phi-3" in the model name;
  prompt = get_prompt() of [user "<image>\\n" + q, assistant None];
* ids: tokenizer_image_token (llava/mm_utils.py): each chunk between <image> tokenized alone with special tokens,
  the first chunk's BOS kept and the later chunks' first token dropped. Llama-3's template starts with a literal
  <|begin_of_text|> and its tokenizer adds one too: the prompt starts with two. Phi-3's tokenizer adds <s>.
* the tokenizer: Llama-3's tokenizer.json as is. Phi-3: builder.py loads it with use_fast=True, and without a
  tokenizer.json transformers 4.37.2 converts tokenizer.model with LlamaConverter, whose normalizer then was
  Prepend("▁") + Replace(" ", "▁") whatever `legacy` said (the legacy switch reached the converter in 4.38):
  every text between special tokens gets a "▁". transformers 5.18 reads the same files with legacy false
  (Metaspace, prepend "first"), so the goldens use its tokenizer with that normalizer put back.
* the model: resize_token_embeddings(len(tokenizer)): Llama-3 gains a randomly initialised row for <pad> (not
  reproducible, left out here: the logits and choices are over the trained 128256-equivalent ids); Phi-3
  shrinks from 32064 to 32011 rows, so greedy decoding keeps to the first 32011 ids.
* pixels: process_image(..., "pad") = expand2square with the CLIP mean colour, then CLIPImageProcessor.
* generate(eos_token_id=terminators): Llama-3 [tokenizer eos, <|eot_id|>], Phi-3 [tokenizer eos, <|end|>],
  replacing generation_config.json's list.

Also writes goldens/llava_conversations.json: the original conversation.py's get_prompt() for the three
templates the library builds in (one and two turns, other and empty system texts, a message holding
<|eot_id|>), for tests/processor/llava_conversations.test.ts.

Run from the repository root after make_llava_format_fixtures.py (the tower) and make_backbone_fixtures.py
(tiny-llama3's tokenizer); --vip-llava names a git checkout or mirror of WisconsinAIVision/ViP-LLaVA, whose
llava/{conversation,mm_utils,constants}.py are imported from a temporary copy:

    python tools/make_llava_backbone_fixtures.py --vip-llava /path/to/ViP-LLaVA
"""
import argparse
import atexit
import importlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections import OrderedDict

import torch
from PIL import Image
from safetensors.torch import save_file
from tokenizers import Tokenizer, normalizers

import transformers
from transformers import AutoTokenizer, CLIPImageProcessor, CLIPModel, LlamaConfig, LlamaForCausalLM, LogitsProcessorList, Phi3Config, Phi3ForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_backbone_fixtures import PHI3_ADDED, added, decoder_entries  # noqa: E402
from make_llava_format_fixtures import FIX, TOWER, KeepVocabulary, hf_model, randomise  # noqa: E402

ROOT = os.path.join(FIX, "..", "..")
GOLD = os.path.join(FIX, "goldens")
LLAMA3 = os.path.join(FIX, "tiny-vip-llava-llama-3-8b")
PHI3 = os.path.join(FIX, "tiny-vip-llava-phi-3-mini")
IMAGES = ["tests/fixtures/images/demo.png", "tests/fixtures/images/portrait.png"]
QUESTIONS = ["What is within the red rectangle?", "Describe the image.\nBe brief."]
MAX_NEW = 12


def write_json(folder: str, name: str, obj, indent=2) -> None:
    with open(os.path.join(folder, name), "w") as f:
        json.dump(obj, f, indent=indent, ensure_ascii=False)


def original_modules(repo: str):
    """ViP-LLaVA's llava.conversation and llava.mm_utils, from a temporary copy of those files (no model code)."""
    tmp = tempfile.mkdtemp(prefix="vip-llava-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "llava"))
    open(os.path.join(tmp, "llava", "__init__.py"), "w").close()
    for name in ("conversation", "mm_utils", "constants"):
        text = subprocess.run(["git", "-C", repo, "show", f"HEAD:llava/{name}.py"], check=True, capture_output=True, text=True).stdout
        with open(os.path.join(tmp, "llava", f"{name}.py"), "w") as f:
            f.write(text)
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    sys.path.insert(0, tmp)
    return importlib.import_module("llava.conversation"), importlib.import_module("llava.mm_utils"), commit


# ---------------------------------------------------------------------------------------------------------------
# The checkpoints


def checkpoint_state(lm: torch.nn.Module, tower: CLIPModel, hidden: int, seed: int) -> OrderedDict:
    """The text model's keys, the mlp2x_gelu projector's (clip_layernorm, final_linear) and the tower's copy, fp16."""
    vh = tower.config.vision_config.hidden_size
    g = torch.Generator().manual_seed(seed)
    projector = [
        ("model.mm_projector.clip_layernorm.weight", 1 + 0.1 * torch.randn(5 * vh, generator=g)),
        ("model.mm_projector.clip_layernorm.bias", 0.1 * torch.randn(5 * vh, generator=g)),
        ("model.mm_projector.final_linear.0.weight", torch.randn(hidden, 5 * vh, generator=g) / math.sqrt(5 * vh)),
        ("model.mm_projector.final_linear.0.bias", 0.1 * torch.randn(hidden, generator=g)),
        ("model.mm_projector.final_linear.2.weight", torch.randn(hidden, hidden, generator=g) / math.sqrt(hidden)),
        ("model.mm_projector.final_linear.2.bias", 0.1 * torch.randn(hidden, generator=g)),
    ]
    state = OrderedDict((k, v.detach().to(torch.float16).contiguous()) for k, v in lm.state_dict().items())
    state.update((k, v.to(torch.float16)) for k, v in projector)
    state.update((f"model.vision_tower.vision_tower.{k}", v.detach().to(torch.float16).contiguous()) for k, v in tower.state_dict().items() if k.startswith("vision_model."))
    return state


def write_safetensors_shards(out: str, state: OrderedDict) -> None:
    names = list(state)
    halves = [names[: len(names) // 2], names[len(names) // 2 :]]
    weight_map = {}
    for i, part in enumerate(halves):
        file = f"model-{i + 1:05d}-of-00002.safetensors"
        save_file({n: state[n] for n in part}, os.path.join(out, file), metadata={"format": "pt"})
        weight_map.update({n: file for n in part})
    write_json(out, "model.safetensors.index.json", {"metadata": {"total_size": sum(t.numel() * 2 for t in state.values())}, "weight_map": weight_map})


def llava_fields(tower: CLIPModel, name: str) -> dict:
    """What LLaVA's train.py adds to the base model's config.json."""
    return {
        "_name_or_path": f"./checkpoints/vip-llava-{name}-stage2-ft",
        "freeze_mm_mlp_adapter": False,
        "image_aspect_ratio": "pad",
        "mm_hidden_size": 5 * tower.config.vision_config.hidden_size,
        "mm_patch_merge_type": "flat",
        "mm_projector_lr": None,
        "mm_projector_type": "mlp2x_gelu",
        "mm_use_im_patch_token": False,
        "mm_use_im_start_end": False,
        "mm_vision_select_feature": "patch",
        "mm_vision_select_layer": -2,
        "mm_vision_tower": "clip_4layers_336",
        "tokenizer_model_max_length": 2048,
        "tokenizer_padding_side": "right",
        "torch_dtype": "float16",
        "transformers_version": "4.37.2",
        "tune_mm_mlp_adapter": False,
        "use_cache": True,
        "use_mm_proj": True,
    }


def take_over(lm: torch.nn.Module, rows: dict) -> None:
    """lm_head row `token` := 1.02 × row `source` for each token: source → token, so that greedy decoding picks the
    token where it would have picked the source (the sources were read off the goldens' greedy paths)."""
    with torch.no_grad():
        for token, source in rows.items():
            lm.lm_head.weight[token] = 1.02 * lm.lm_head.weight[source]


# Llama-3 -------------------------------------------------------------------------------------------------------

LLAMA3_CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)


def llama3_tokenizer(out: str) -> dict:
    """tiny-llama3's BPE and Llama-3's special tokens, then the `<pad>` train.py appends (add_tokens, special)."""
    tok = json.load(open(os.path.join(FIX, "tiny-llama3", "tokenizer.json")))
    n = len(tok["model"]["vocab"])
    tok["added_tokens"] = [t for t in tok["added_tokens"] if t["content"] not in ("<image>", "<pad>")]
    assert len(tok["added_tokens"]) == 256 and tok["added_tokens"][0]["id"] == n
    tok["added_tokens"].append(added(n + 256, "<pad>"))
    write_json(out, "tokenizer.json", tok, indent=None)
    write_json(out, "tokenizer_config.json", {
        "added_tokens_decoder": decoder_entries(tok["added_tokens"]),
        "bos_token": "<|begin_of_text|>",
        "chat_template": LLAMA3_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": True,
        "eos_token": "<|end_of_text|>",
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 2048,
        "padding_side": "right",
        "tokenizer_class": "PreTrainedTokenizerFast",
    })
    plain = {"lstrip": False, "normalized": False, "rstrip": False, "single_word": False}
    write_json(out, "special_tokens_map.json", {"bos_token": {"content": "<|begin_of_text|>", **plain}, "eos_token": {"content": "<|end_of_text|>", **plain}})
    return {"vocab": n + 256, "bos": n, "eos": n + 1, "eot": n + 9, "pad": n + 256}


def make_llama3(tower: CLIPModel) -> tuple:
    shutil.rmtree(LLAMA3, ignore_errors=True)
    os.makedirs(LLAMA3)
    ids = llama3_tokenizer(LLAMA3)
    text = {
        "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": ids["bos"], "eos_token_id": ids["eos"], "hidden_act": "silu",
        "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64, "max_position_embeddings": 8192, "num_attention_heads": 4,
        "num_hidden_layers": 2, "num_key_value_heads": 1, "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None,
        "rope_theta": 500000.0, "tie_word_embeddings": False, "vocab_size": ids["vocab"],
    }
    config = LlamaConfig(**text)
    lm = LlamaForCausalLM(config)
    randomise(lm, seed=3801)
    take_over(lm, {ids["eot"]: 1591})
    state = checkpoint_state(lm, tower, 32, seed=3802)
    write_safetensors_shards(LLAMA3, state)
    write_json(LLAMA3, "config.json", dict(sorted({"architectures": ["LlavaLlamaForCausalLM"], "model_type": "llava_llama", **text, **llava_fields(tower, "Meta-Llama-3-8B-Instruct")}.items())))
    write_json(LLAMA3, "generation_config.json", {"bos_token_id": ids["bos"], "eos_token_id": ids["eos"], "transformers_version": "4.37.2"})
    return state, config, ids


# Phi-3 ---------------------------------------------------------------------------------------------------------

PHI3_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{'<|' + message['role'] + '|>' + '\n' + message['content'] + "
    "'<|end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)


def phi3_tokenizer(out: str) -> None:
    """The files LlamaTokenizer (slow) saves for Phi-3-mini-4k-instruct's tokenizer after train.py set pad to unk."""
    shutil.copy(os.path.join(FIX, "sentencepiece", "tokenizer.model"), out)
    tokens = [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>", special=False, rstrip=True)]
    tokens += [added(i, c, rstrip=r) for i, c, r in PHI3_ADDED]
    write_json(out, "added_tokens.json", {c: i for i, c, _ in sorted(PHI3_ADDED, key=lambda t: t[1])})
    write_json(out, "tokenizer_config.json", {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": decoder_entries(tokens),
        "bos_token": "<s>",
        "chat_template": PHI3_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|endoftext|>",
        "legacy": False,
        "model_max_length": 2048,
        "pad_token": "<unk>",
        "padding_side": "right",
        "sp_model_kwargs": {},
        "spaces_between_special_tokens": False,
        "tokenizer_class": "LlamaTokenizer",
        "unk_token": "<unk>",
        "use_default_system_prompt": False,
    })
    plain = {"lstrip": False, "normalized": False, "rstrip": False, "single_word": False}
    write_json(out, "special_tokens_map.json", {
        "bos_token": {"content": "<s>", **plain}, "eos_token": {"content": "<|endoftext|>", **plain},
        "pad_token": {"content": "<unk>", **plain}, "unk_token": {"content": "<unk>", **plain},
    })


def make_phi3(tower: CLIPModel) -> tuple:
    shutil.rmtree(PHI3, ignore_errors=True)
    os.makedirs(PHI3)
    phi3_tokenizer(PHI3)
    text = {
        "attention_dropout": 0.0, "bos_token_id": 1, "embd_pdrop": 0.0, "eos_token_id": 32000, "hidden_act": "silu", "hidden_size": 8,
        "initializer_range": 0.02, "intermediate_size": 16, "max_position_embeddings": 4096, "num_attention_heads": 2, "num_hidden_layers": 2,
        "num_key_value_heads": 2, "original_max_position_embeddings": 4096, "pad_token_id": 32000, "resid_pdrop": 0.0, "rms_norm_eps": 1e-05,
        "rope_scaling": None, "rope_theta": 10000.0, "sliding_window": 2047, "tie_word_embeddings": False, "vocab_size": 32064,
    }
    config = Phi3Config(**text)
    lm = Phi3ForCausalLM(config)
    randomise(lm, seed=3811)
    # <|end|> ends answers; <|assistant|> (a stop of generation_config.json, not of the eval) and id 32040 (a row
    # the eval's resized model no longer has) are made likely so that the goldens depend on both choices
    take_over(lm, {32001: 14597, 32007: 9879, 32040: 13086})
    state = checkpoint_state(lm, tower, 8, seed=3812)
    assert "model.layers.0.self_attn.qkv_proj.weight" in state and "model.layers.0.mlp.gate_up_proj.weight" in state
    write_safetensors_shards(PHI3, state)
    write_json(PHI3, "config.json", dict(sorted({"architectures": ["LlavaPhi3ForCausalLM"], "model_type": "llava_phi3", **text, **llava_fields(tower, "Phi-3-mini-4k-instruct")}.items())))
    write_json(PHI3, "generation_config.json", {"_from_model_config": True, "bos_token_id": 1, "eos_token_id": [32000, 32001, 32007], "pad_token_id": 32000, "transformers_version": "4.37.2"})
    return state, config


def fast_tokenizer_4_37(folder: str):
    """Phi-3's tokenizer as builder.py's use_fast=True got it under transformers 4.37.2 (see the module docstring)."""
    tok = AutoTokenizer.from_pretrained(folder)
    data = json.loads(tok._tokenizer.to_str())
    assert data["normalizer"] is None and data["pre_tokenizer"]["type"] == "Metaspace", (data["normalizer"], data["pre_tokenizer"])
    data["pre_tokenizer"] = None
    rust = Tokenizer.from_str(json.dumps(data))
    rust.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok._tokenizer = rust
    return tok


# ---------------------------------------------------------------------------------------------------------------
# Goldens


def eval_goldens(name: str, folder: str, model, tokenizer, conv, mm_utils, *, conv_mode: str, terminators: list, keep: int, vocab: int, extra_texts: list) -> None:
    """model_vqa.py's steps on two images and questions, and a two-turn prompt's ids."""
    processor = CLIPImageProcessor.from_pretrained(TOWER)
    vc = model.config.vision_config
    per_image = (vc.image_size // vc.patch_size) ** 2
    image_id = model.config.image_token_id

    def ids_of(prompt: str) -> list:
        ids = mm_utils.tokenizer_image_token(prompt, tokenizer, mm_utils.IMAGE_TOKEN_INDEX)
        return [x for i in ids for x in ([image_id] * per_image if i == mm_utils.IMAGE_TOKEN_INDEX else [i])]

    def prompt_of(turns: list) -> str:
        c = conv.conv_templates[conv_mode].copy()
        for role, text in turns:
            c.append_message(c.roles[0 if role == "user" else 1], text)
        return c.get_prompt()

    tensors, cases = {}, []
    pixels = [processor.preprocess(mm_utils.process_image(Image.open(os.path.join(ROOT, p)), "pad", processor), return_tensors="pt")["pixel_values"][0] for p in IMAGES]
    tensors["pixel_values"] = torch.stack(pixels)
    with torch.no_grad():
        for i, q in enumerate(QUESTIONS):
            prompt = prompt_of([("user", "<image>\n" + q), ("assistant", None)])
            ids = ids_of(prompt)
            pv = tensors["pixel_values"][i : i + 1]
            tensors[f"logits_{i}"] = model(input_ids=torch.tensor([ids]), pixel_values=pv).logits[0, -4:, :vocab]
            gen = model.generate(input_ids=torch.tensor([ids]), pixel_values=pv, max_new_tokens=MAX_NEW, do_sample=False, eos_token_id=terminators,
                                 pad_token_id=terminators[0], logits_processor=LogitsProcessorList([KeepVocabulary(keep)]))
            new = gen[0, len(ids) :].tolist()
            cases.append({"image": IMAGES[i], "question": q, "prompt": prompt, "input_ids": ids, "new_tokens": new, "answer": tokenizer.decode(new, skip_special_tokens=True)})
        prompt = prompt_of([("user", "<image>\n" + QUESTIONS[0]), ("assistant", "a cat"), ("user", "and the colour?"), ("assistant", None)])
        cases.append({"image": IMAGES[0], "prompt": prompt, "input_ids": ids_of(prompt)})
    texts = [{"text": t, "ids": tokenizer(t).input_ids} for t in extra_texts]
    meta = {
        "transformers_version": transformers.__version__, "image_tokens": per_image, "image_token_id": image_id, "vocab": vocab, "keep": keep,
        "terminators": terminators, "cases": cases, "tokenizer": texts,
    }
    for i, c in enumerate(cases[:2]):
        print(f"{name} case {i}: {len(c['input_ids'])} ids, new tokens {c['new_tokens']}")
    save_file({k: v.contiguous().to(torch.float32) for k, v in tensors.items()}, os.path.join(GOLD, f"{name}.safetensors"))
    write_json(GOLD, f"{name}.json", meta, indent=1)


def golden_model(state: dict, tower: CLIPModel, text_config, vocab: int):
    """The checkpoint in transformers' layout: the weights as stored (fp16 → fp32), the tower as its own checkpoint has it."""
    state = {k: v for k, v in state.items() if not k.startswith("model.vision_tower.")}
    state.update((f"model.vision_tower.vision_tower.{k}", v) for k, v in tower.state_dict().items() if k.startswith("vision_model.") and "post_layernorm" not in k)
    return hf_model(state, tower, text_config, vocab)


def conversation_goldens(conv, commit: str) -> None:
    """get_prompt() of the original templates, with each conversation also as chat messages for the built-in templates."""
    image_q = ("user", "<image>\nWhat is within the red rectangle?")
    dialogues = [
        ("one turn", None, [image_q, ("assistant", None)]),
        ("two turns", None, [image_q, ("assistant", "A red box."), ("user", "And what colour is it?"), ("assistant", None)]),
        ("two turns answered", None, [image_q, ("assistant", "A red box."), ("user", "And what colour is it?"), ("assistant", "Red.")]),
        ("text only", None, [("user", "Say hello."), ("assistant", None)]),
        ("another system text", "Answer in one word.", [image_q, ("assistant", None)]),
        ("no system text", "", [image_q, ("assistant", None)]),
    ]
    eot = ("an answer holding <|eot_id|>", None, [image_q, ("assistant", "Done.<|eot_id|>"), ("user", "Again?"), ("assistant", None)])
    cases = []
    for template in ("llava_v1", "llava_llama_3", "llava_phi_3"):
        for label, system, turns in dialogues + ([eot] if template != "llava_v1" else []):
            c = conv.conv_templates[template].copy()
            if system is not None:
                c.system = system
            for role, text in turns:
                c.append_message(c.roles[0 if role == "user" else 1], text)
            messages = [] if system is None else [{"role": "system", "content": system}]
            for role, text in turns[:-1] if turns[-1][1] is None else turns:
                parts = [{"type": "image"}, {"type": "text", "text": text[len("<image>\n") :]}] if text.startswith("<image>\n") else [{"type": "text", "text": text}]
                messages.append({"role": role, "content": parts})
            cases.append({"template": template, "label": label, "messages": messages, "add_generation_prompt": turns[-1][1] is None, "prompt": c.get_prompt()})
    write_json(GOLD, "llava_conversations.json", {"source": f"WisconsinAIVision/ViP-LLaVA@{commit} llava/conversation.py", "cases": cases}, indent=1)


PHI3_TEXTS = ["Hello world", "  two leading spaces", "<|user|>\nHi<|end|>\n<|assistant|>\n", "<|endoftext|> after a non-stripping token", "a</s>b <s> c"]
LLAMA3_TEXTS = ["Hello world", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", "text <pad> more"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vip-llava", default=os.environ.get("VIP_LLAVA_REPO", "/work/.mirror/WisconsinAIVision+ViP-LLaVA/repo"), help="a git checkout or mirror of WisconsinAIVision/ViP-LLaVA")
    args = parser.parse_args()
    torch.set_num_threads(2)
    conv, mm_utils, commit = original_modules(args.vip_llava)
    conversation_goldens(conv, commit)
    tower = CLIPModel.from_pretrained(TOWER, dtype=torch.float32)

    state, text, ids = make_llama3(tower)
    tokenizer = AutoTokenizer.from_pretrained(LLAMA3)
    terminators = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|eot_id|>")]
    assert len(tokenizer) == ids["vocab"] + 1 and terminators == [ids["eos"], ids["eot"]]
    eval_goldens("tiny-vip-llava-llama-3-8b", LLAMA3, golden_model(state, tower, text, ids["vocab"]), tokenizer, conv, mm_utils,
                 conv_mode="llava_llama_3", terminators=terminators, keep=ids["vocab"], vocab=ids["vocab"], extra_texts=LLAMA3_TEXTS)

    state, text = make_phi3(tower)
    tokenizer = fast_tokenizer_4_37(PHI3)
    terminators = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|end|>")]
    assert len(tokenizer) == 32011 and terminators == [32000, 32007]
    eval_goldens("tiny-vip-llava-phi-3-mini", PHI3, golden_model(state, tower, text, 32064), tokenizer, conv, mm_utils,
                 conv_mode="llava_phi_3", terminators=terminators, keep=len(tokenizer), vocab=32064, extra_texts=PHI3_TEXTS)
    print("written with transformers", transformers.__version__, "and ViP-LLaVA", commit)


if __name__ == "__main__":
    main()
