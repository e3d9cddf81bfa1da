"""Two more tiny random VipLlava checkpoints, one per extra text backbone, and their goldens from transformers.

Everything here comes from Hugging Face transformers / tokenizers themselves; the TypeScript code never writes
goldens. Run from the repository root, after make_fixtures.py and make_processor_fixtures.py (same environment:
CPU torch 2.13.0, transformers 5.18.0, tokenizers 0.23.2, safetensors 0.8.0):

    python tools/make_backbone_fixtures.py

* tiny-phi3: a Phi-3-mini-style text model (`model_type: "phi3"`: fused qkv_proj and gate_up_proj). A 4.x-era
  hand-written config.json that leaves Phi3Config's defaults out (vocab 32064, bos 1, eos / pad 32000, rms eps
  1e-5), with GQA 4/2, head_dim 8 (transformers reads `head_dim` off the config: hidden 8 / 4 heads would be 2),
  partial_rotary_factor 0.5 (4 of the 8 head dims rotate, as in Phi-4-mini), rope_theta 5000, and a sliding
  window of 12, shorter than the prompts. Weights in one model.safetensors under transformers 5.x's in-memory
  names. The tokenizer is the Llama-2 vocabulary with Phi-3's added tokens (32000-32010, rstrip as on
  Phi-3-mini-4k-instruct; `</s>` not special there) and `<image>` = 32011; generation_config.json stops on
  [32000, 32001, 32007] as Phi-3's does.
* tiny-llama3: a Meta-Llama-3-8B-Instruct-style text model: GQA 4/1, head_dim 24 (hidden 64 / 4 heads would be
  16), rope_theta 500000, `rope_scaling: null`; hub legacy key names in two shards. The tokenizer is a small
  byte-level BPE trained here with tokenizers on synthetic text (Llama-3's split regex, ByteLevel decoder,
  ignore_merges, a TemplateProcessing post-processor adding <|begin_of_text|>), then Llama-3's 256 special tokens
  in their layout after the BPE vocabulary, then `<image>` and `<pad>`. generation_config.json stops on
  [<|end_of_text|>, <|eot_id|>] as the instruct's does; config.json's eos is <|eot_id|>.

In both, the lm_head row of one stop token is scaled up so that greedy generation sometimes ends on it (the
generate goldens then check stopping on a generation_config eos list and the padding of finished rows).

Writes tests/fixtures/tiny-{phi3,llama3}/, tests/fixtures/goldens/tiny-{phi3,llama3}.{json,safetensors},
tests/fixtures/goldens/generation/tiny-{phi3,llama3}.json, the two checkpoints' entries of
tests/fixtures/goldens/processor/processor.json, and tests/fixtures/goldens/processor/backbone_tokenizers.json.
"""

import json
import os
import random
import shutil
import sys

import torch
from safetensors.torch import save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

import transformers
from transformers import AutoTokenizer, VipLlavaConfig, VipLlavaForConditionalGeneration

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import FIX, goldens_for, legacy_key, randomise, write_sharded  # noqa: E402
from make_generation_fixtures import generation_goldens  # noqa: E402
from make_processor_fixtures import LLAMA2_TOKENIZER, preprocessor_json, processor_goldens  # noqa: E402

GOLD = os.path.join(FIX, "goldens")

# The Phi-3 and Llama-3 ViP-LLaVA variants' conversation formats (src/processor/chat_template.ts has the same
# text as its built-in llava_phi_3 / llava_llama_3 templates).
VISION_SYSTEM = (
    "You are a helpful language and vision assistant. You are able to understand the visual content that the user "
    "provides, and assist the user with a variety of tasks using natural language."
)
SYSTEM = (
    "{% set ns = namespace(system=" + json.dumps(VISION_SYSTEM) + ") %}"
    "{% for message in messages %}{% if message['role'] == 'system' %}{% set ns.system = message['content'] | "
    "selectattr('type', 'equalto', 'text') | map(attribute='text') | join('') %}{% endif %}{% endfor %}"
)
CONTENT = (
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
)
PHI3_TEMPLATE = (
    SYSTEM + "{% if ns.system %}{{ '<|system|>\n' + ns.system + '<|end|>\n' }}{% endif %}"
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ '<|' + message['role'] + '|>\n' }}"
    + CONTENT + "{{ '<|end|>\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
LLAMA3_TEMPLATE = (
    SYSTEM + "{% if ns.system %}{{ '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n' + ns.system + "
    "'<|eot_id|>' }}{% endif %}"
    "{% for message in messages %}{% if message['role'] != 'system' %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}"
    + CONTENT + "{{ '<|eot_id|>' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)


def added(i: int, content: str, *, special: bool = True, rstrip: bool = False) -> dict:
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": rstrip, "normalized": False,
            "special": special}


def decoder_entries(tokens: list) -> dict:
    keys = ("content", "lstrip", "normalized", "rstrip", "single_word", "special")
    return {str(t["id"]): {k: t[k] for k in keys} for t in tokens}


def write_json(folder: str, name: str, obj, indent=2) -> None:
    with open(os.path.join(folder, name), "w") as f:
        json.dump(obj, f, indent=indent, ensure_ascii=False)


def processor_files(out: str, size: int, patch: int) -> None:
    write_json(out, "preprocessor_config.json", preprocessor_json(size))
    write_json(out, "processor_config.json", {
        "image_token": "<image>", "num_additional_image_tokens": 1, "patch_size": patch,
        "processor_class": "LlavaProcessor", "vision_feature_select_strategy": "default",
    })


def boost_row(model, token: int, factor: float) -> None:
    with torch.no_grad():
        model.lm_head.weight[token] *= factor


# ---------------------------------------------------------------------------------------------------------------
# tiny-phi3

PHI3_ADDED = [
    (32000, "<|endoftext|>", False), (32001, "<|assistant|>", True), (32002, "<|placeholder1|>", True),
    (32003, "<|placeholder2|>", True), (32004, "<|placeholder3|>", True), (32005, "<|placeholder4|>", True),
    (32006, "<|system|>", True), (32007, "<|end|>", True), (32008, "<|placeholder5|>", True),
    (32009, "<|placeholder6|>", True), (32010, "<|user|>", True),
]
PHI3_IMAGE = 32011


def phi3_tokenizer(out: str) -> None:
    tok = json.load(open(LLAMA2_TOKENIZER))
    base = {t["id"]: t for t in tok["added_tokens"]}
    base[2] = added(2, "</s>", special=False, rstrip=True)  # as on Phi-3-mini-4k-instruct
    tokens = [base[0], base[1], base[2]]
    tokens += [added(i, c, rstrip=r) for i, c, r in PHI3_ADDED]
    tokens.append(added(PHI3_IMAGE, "<image>"))
    tok["added_tokens"] = tokens
    write_json(out, "tokenizer.json", tok, indent=None)
    write_json(out, "tokenizer_config.json", {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": decoder_entries(tokens),
        "bos_token": "<s>",
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|endoftext|>",
        "legacy": False,
        "model_max_length": 4096,
        "pad_token": "<|endoftext|>",
        "padding_side": "left",
        "processor_class": "LlavaProcessor",
        "sp_model_kwargs": {},
        "tokenizer_class": "LlamaTokenizer",
        "unk_token": "<unk>",
        "use_default_system_prompt": False,
    })
    write_json(out, "special_tokens_map.json", {
        "bos_token": "<s>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<unk>",
    })
    with open(os.path.join(out, "chat_template.jinja"), "w") as f:
        f.write(PHI3_TEMPLATE)


def make_tiny_phi3() -> str:
    out = os.path.join(FIX, "tiny-phi3")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    config_json = {
        "architectures": ["VipLlavaForConditionalGeneration"],
        "image_token_index": PHI3_IMAGE,
        "model_type": "vipllava",
        "pad_token_id": 32000,
        "projector_hidden_act": "gelu",
        "projector_layernorm_eps": 1e-05,
        "text_config": {
            "_name_or_path": "tiny-random-phi-3-mini",
            "architectures": ["Phi3ForCausalLM"],
            "attention_bias": False,
            "attention_dropout": 0.0,
            "embd_pdrop": 0.0,
            "hidden_act": "silu",
            "hidden_size": 8,
            "head_dim": 8,
            "intermediate_size": 24,
            "max_position_embeddings": 4096,
            "model_type": "phi3",
            "num_attention_heads": 4,
            "num_hidden_layers": 2,
            "num_key_value_heads": 2,
            "original_max_position_embeddings": 4096,
            "partial_rotary_factor": 0.5,
            "resid_pdrop": 0.0,
            "rope_scaling": None,
            "rope_theta": 5000.0,
            "sliding_window": 12,
            "torch_dtype": "float16",
            "use_cache": True,
        },
        "torch_dtype": "float16",
        "transformers_version": "4.41.2",
        "vision_config": {
            "hidden_size": 16,
            "image_size": 40,
            "intermediate_size": 32,
            "model_type": "clip_vision_model",
            "num_attention_heads": 2,
            "num_hidden_layers": 3,
            "patch_size": 10,
            "projection_dim": 8,
        },
        "vision_feature_layers": [-1, 1],
    }
    config = VipLlavaConfig(**json.loads(json.dumps(config_json)))
    model = VipLlavaForConditionalGeneration(config)
    assert model.config.text_config.vocab_size == 32064 and model.config.text_config.eos_token_id == 32000
    randomise(model, seed=2468)
    boost_row(model, 32007, 2.2)  # <|end|>
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    assert "model.language_model.layers.0.self_attn.qkv_proj.weight" in state
    assert "model.language_model.layers.0.mlp.gate_up_proj.weight" in state
    save_file(state, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    write_json(out, "config.json", config_json)
    write_json(out, "generation_config.json", {
        "_from_model_config": True, "bos_token_id": 1, "eos_token_id": [32000, 32001, 32007], "pad_token_id": 32000,
    })
    phi3_tokenizer(out)
    processor_files(out, 40, 10)
    return out


# ---------------------------------------------------------------------------------------------------------------
# tiny-llama3

LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
BPE_VOCAB = 2000


def llama3_specials() -> list:
    """Meta-Llama-3's 256 special tokens in their order (Llama 3, not 3.1: 128004 and 128008 are reserved)."""
    named = {0: "<|begin_of_text|>", 1: "<|end_of_text|>", 6: "<|start_header_id|>", 7: "<|end_header_id|>",
             9: "<|eot_id|>"}
    out, reserved = [], 0
    for i in range(256):
        if i in named:
            out.append(named[i])
        else:
            out.append(f"<|reserved_special_token_{reserved}|>")
            reserved += 1
    return out


def synthetic_corpus(seed: int = 11) -> list:
    rng = random.Random(seed)
    words = (
        "the a an image picture photo shows red green blue box circle arrow point left right top bottom inside "
        "outside what is are was were this that these those there here cat dog person car tree sky water building "
        "sign stop street road people man woman child holding standing sitting looking describe explain compare "
        "color shape region marked highlighted scribble bounding visual prompt answer question assistant user "
        "system helpful detailed polite language vision understand content provides tasks natural model token "
        "hello world chat between curious human artificial intelligence numbers symbols code function return value "
        "they'll we've I'm you're it's don't can't won't isn't shouldn't"
    ).split()
    foreign = ["café", "naïve", "façade", "über", "Ünïcödé", "niño", "日本語", "のテキスト", "中文", "文本", "Привет",
               "мир", "안녕하세요", "🦙", "🚀", "😀", "👍", "—", "…", "“quotes”", "½", "∑", "€"]
    punct = [".", ",", "?", "!", ":", ";", "(", ")", "\"", "'", "-", "/", "#", "@", "*", "&", "%", "$", "`"]
    lines = []
    for _ in range(6000):
        n = rng.randint(3, 18)
        parts = []
        for _ in range(n):
            r = rng.random()
            if r < 0.75:
                w = rng.choice(words)
                parts.append(w.capitalize() if rng.random() < 0.15 else w)
            elif r < 0.85:
                parts.append(str(rng.randint(0, 99999)))
            elif r < 0.93:
                parts.append(rng.choice(foreign))
            else:
                parts.append(rng.choice(punct))
        sep = rng.choice([" ", " ", " ", "  ", "\n", "\t", "\n\n"])
        lines.append(sep.join(parts) + rng.choice([".", "?", "!", "\n", ""]))
    return lines


def llama3_tokenizer(out: str) -> int:
    """Trains the BPE, writes the tokenizer files; returns the BPE vocabulary size (the first special id)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(synthetic_corpus(), trainer)
    n = tok.get_vocab_size()
    specials = llama3_specials()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    tok.add_special_tokens([AddedToken("<image>", special=True, normalized=False),
                            AddedToken("<pad>", special=True, normalized=False)])
    assert tok.token_to_id("<|begin_of_text|>") == n and tok.token_to_id("<|eot_id|>") == n + 9
    assert tok.token_to_id("<image>") == n + 256 and tok.token_to_id("<pad>") == n + 257
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(
            single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
            special_tokens=[("<|begin_of_text|>", n)],
        ),
    ])
    data = json.loads(tok.to_str())
    data["model"]["ignore_merges"] = True  # as Llama-3's tokenizer.json has it
    write_json(out, "tokenizer.json", data, indent=None)
    tokens = data["added_tokens"]
    write_json(out, "tokenizer_config.json", {
        "added_tokens_decoder": decoder_entries(tokens),
        "bos_token": "<|begin_of_text|>",
        "clean_up_tokenization_spaces": True,
        "eos_token": "<|eot_id|>",
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 8192,
        "pad_token": "<pad>",
        "padding_side": "left",
        "processor_class": "LlavaProcessor",
        "tokenizer_class": "PreTrainedTokenizerFast",
    })
    write_json(out, "special_tokens_map.json", {
        "bos_token": {"content": "<|begin_of_text|>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
        "eos_token": {"content": "<|eot_id|>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
        "pad_token": "<pad>",
    })
    write_json(out, "chat_template.json", {"chat_template": LLAMA3_TEMPLATE})
    return n


def make_tiny_llama3() -> tuple:
    out = os.path.join(FIX, "tiny-llama3")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    n = llama3_tokenizer(out)
    image, pad, bos, eot, end = n + 256, n + 257, n, n + 9, n + 1
    config_json = {
        "architectures": ["VipLlavaForConditionalGeneration"],
        "ignore_index": -100,
        "image_token_index": image,
        "model_type": "vipllava",
        "pad_token_id": pad,
        "projector_hidden_act": "gelu",
        "projector_layernorm_eps": 1e-05,
        "text_config": {
            "_name_or_path": "tiny-random-meta-llama-3-instruct",
            "architectures": ["LlamaForCausalLM"],
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": bos,
            "eos_token_id": eot,
            "head_dim": 24,
            "hidden_act": "silu",
            "hidden_size": 64,
            "initializer_range": 0.02,
            "intermediate_size": 128,
            "max_position_embeddings": 8192,
            "mlp_bias": False,
            "model_type": "llama",
            "num_attention_heads": 4,
            "num_hidden_layers": 2,
            "num_key_value_heads": 1,
            "pretraining_tp": 1,
            "rms_norm_eps": 1e-05,
            "rope_scaling": None,
            "rope_theta": 500000.0,
            "tie_word_embeddings": False,
            "torch_dtype": "float16",
            "use_cache": True,
            "vocab_size": n + 320,
        },
        "torch_dtype": "float16",
        "transformers_version": "4.40.0",
        "vision_config": {
            "hidden_size": 32,
            "image_size": 48,
            "intermediate_size": 64,
            "model_type": "clip_vision_model",
            "num_attention_heads": 4,
            "num_hidden_layers": 4,
            "patch_size": 16,
            "projection_dim": 16,
        },
        "vision_feature_layers": [-2, -5, 1],
    }
    config = VipLlavaConfig(**json.loads(json.dumps(config_json)))
    model = VipLlavaForConditionalGeneration(config)
    randomise(model, seed=1357)
    boost_row(model, eot, 1.4)
    state = {legacy_key(k): v.detach().to(torch.float16) for k, v in model.state_dict().items()}
    write_sharded(state, out, 2)
    write_json(out, "config.json", config_json)
    write_json(out, "generation_config.json", {"bos_token_id": bos, "eos_token_id": [end, eot],
                                               "transformers_version": "4.40.0"})
    processor_files(out, 48, 16)
    return out, {"bos": bos, "image": image, "pad": pad, "bpe": n}


# ---------------------------------------------------------------------------------------------------------------
# Tokenizer goldens

TOKENIZER_STRINGS = [
    "Hello world",
    "What is shown in this image?",
    "  leading spaces and  double  spaces   ",
    "line1\n\nline2\ttab\r\nwindows",
    "emoji 🦙 and 日本語 and ü",
    "Ünïcödé façade — naïve café… “quotes” ½ ∑ 🧑‍🚀🏳️‍🌈",
    "Numbers 1234567 and symbols @#$%^&*() ~ `code` <b>html</b>",
    "they'll we've I'M You're it's DON'T",
    "Hello , world . Is it ? Yes ! don 't , I 'm",
    "",
    " ",
    "<image>\nWhat is inside the red box?",
    "<image><image> back-to-back<image>",
]
PHI3_STRINGS = [
    "<|user|>\n<image>\nWhat is this?<|end|>\n<|assistant|>\nA cat.<|end|>\n<|endoftext|>",
    "<s> inside </s> text <unk> and <|system|>  spaced <|end|> done",
    "<|placeholder1|>x<|placeholder6|>  y",
]
LLAMA3_STRINGS = [
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n<image>\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    "text <|eot_id|> more <|end_of_text|><|reserved_special_token_3|> <pad>",
]


def tokenizer_goldens(tiny_llama3: dict) -> None:
    out = {}
    for folder, extra in (("tiny-phi3", PHI3_STRINGS), ("tiny-llama3", LLAMA3_STRINGS)):
        tok = AutoTokenizer.from_pretrained(os.path.join(FIX, folder))
        cases = []
        for s in TOKENIZER_STRINGS + extra:
            ids = tok(s)["input_ids"]
            cases.append({
                "text": s, "ids": ids, "tokens": tok.convert_ids_to_tokens(ids),
                "no_special_ids": tok(s, add_special_tokens=False)["input_ids"],
                "decoded": tok.decode(ids), "decoded_skip": tok.decode(ids, skip_special_tokens=True),
            })
        # Odd id runs: the bytes of one character split, cut off, or around special tokens.
        emoji = tok("🦙🚀 日本", add_special_tokens=False)["input_ids"]
        odd = [emoji[:1], emoji[:-1], emoji[1:], [emoji[0]] + [tok.eos_token_id] + emoji[1:], list(reversed(emoji))]
        if folder == "tiny-phi3":
            odd += [[243, 162], [32007, 32001, 13, 29871, 2], [1, 32011, 32011, 32000, 2, 2]]
        else:
            b = tiny_llama3["bpe"]
            odd += [[b, b + 6, 882, b + 7, b + 9], [b + 256, b + 257, 5, b + 1], [b + 255, 200, 201, 202]]
        batch = ["Hello world", "What is shown in this image?", "<image>\nHi"]
        tok.padding_side = "left"
        left = tok(batch, padding=True)
        tok.padding_side = "right"
        right = tok(batch, padding=True)
        out[folder] = {
            "class": type(tok).__name__,
            "special": {"bos": tok.bos_token_id, "eos": tok.eos_token_id, "pad": tok.pad_token_id,
                        "unk": tok.unk_token_id, "image": tok.convert_tokens_to_ids("<image>"), "vocab_size": len(tok)},
            "cases": cases,
            "batch": {"texts": batch, "left": dict(left), "right": dict(right)},
            "decode": [{"ids": ids, "decoded": tok.decode(ids), "decoded_skip": tok.decode(ids, skip_special_tokens=True)}
                       for ids in odd],
        }
    write_json(os.path.join(GOLD, "processor"), "backbone_tokenizers.json", out, indent=1)


# ---------------------------------------------------------------------------------------------------------------


def main() -> None:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    phi3 = make_tiny_phi3()
    llama3, ids3 = make_tiny_llama3()
    goldens_for("tiny-phi3", phi3, seed=9, image_token=PHI3_IMAGE, pad=32000, bos=1,
                gen_kwargs=dict(max_new_tokens=12, do_sample=False))
    goldens_for("tiny-llama3", llama3, seed=10, image_token=ids3["image"], pad=ids3["pad"], bos=ids3["bos"],
                text_ids=(0, ids3["bpe"]), gen_kwargs=dict(max_new_tokens=12, do_sample=False))
    tokenizer_goldens(ids3)
    processor_goldens(("tiny-phi3", "tiny-llama3"))
    for name, pad in (("tiny-phi3", 32000), ("tiny-llama3", ids3["pad"])):
        with open(os.path.join(GOLD, "generation", f"{name}.json"), "w") as f:
            json.dump(generation_goldens(name, pad=pad), f)
    print("backbone fixtures written under", FIX, "with transformers", transformers.__version__)


if __name__ == "__main__":
    sys.exit(main())
