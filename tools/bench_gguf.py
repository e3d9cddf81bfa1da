"""The language model of `npm run bench`'s random VipLlava-7B checkpoint as a llama.cpp GGUF (F16): the same
shapes and values, so that llama-bench can run beside our engine in the same window.

    PYTHONPATH=<llama.cpp>/gguf-py python tools/bench_gguf.py ~/.cache/vipllava/bench/vip-llava-7b-random \
        vip7b-f16.gguf tests/fixtures/llama2_tokenizer.json
    llama-quantize vip7b-f16.gguf vip7b-bf16.gguf BF16     # and Q8_0, Q4_0
    npm run bench -- --kv-cache float16 --llama-models auto=vip7b-f16.gguf,bfloat16=vip7b-bf16.gguf,...

Needs numpy, safetensors and llama.cpp's gguf-py (its writer only; nothing is converted by llama.cpp's scripts).
gguf-py imports sentencepiece at load; where it is missing, an empty sentencepiece.py on PYTHONPATH will do.
"""
import json, sys, os
import numpy as np
from safetensors import safe_open
import gguf

src, out, tok_json = sys.argv[1], sys.argv[2], sys.argv[3]
index = json.load(open(os.path.join(src, "model.safetensors.index.json")))["weight_map"]
L = 32
pairs = [("model.language_model.embed_tokens.weight", "token_embd.weight"),
         ("model.language_model.norm.weight", "output_norm.weight"),
         ("lm_head.weight", "output.weight")]
for i in range(L):
    p = f"model.language_model.layers.{i}."
    pairs += [(p + "input_layernorm.weight", f"blk.{i}.attn_norm.weight"),
              (p + "self_attn.q_proj.weight", f"blk.{i}.attn_q.weight"),
              (p + "self_attn.k_proj.weight", f"blk.{i}.attn_k.weight"),
              (p + "self_attn.v_proj.weight", f"blk.{i}.attn_v.weight"),
              (p + "self_attn.o_proj.weight", f"blk.{i}.attn_output.weight"),
              (p + "post_attention_layernorm.weight", f"blk.{i}.ffn_norm.weight"),
              (p + "mlp.gate_proj.weight", f"blk.{i}.ffn_gate.weight"),
              (p + "mlp.up_proj.weight", f"blk.{i}.ffn_up.weight"),
              (p + "mlp.down_proj.weight", f"blk.{i}.ffn_down.weight")]
handles = {}
def tensor(name):
    f = index[name]
    if f not in handles:
        handles[f] = safe_open(os.path.join(src, f), framework="np")
    return handles[f].get_tensor(name)

w = gguf.GGUFWriter(out, "llama")
w.add_name("vipllava-7b-random-language-model")
w.add_context_length(4096); w.add_embedding_length(4096); w.add_block_count(L); w.add_feed_forward_length(11008)
w.add_rope_dimension_count(128); w.add_head_count(32); w.add_head_count_kv(32); w.add_layer_norm_rms_eps(1e-5)
w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
vocab = json.load(open(tok_json))
pieces = sorted(vocab["model"]["vocab"].items(), key=lambda kv: kv[1])
tokens = [p for p, _ in pieces]
for t in vocab.get("added_tokens", []):
    if t["id"] >= len(tokens):
        tokens.append(t["content"])
while len(tokens) < 32064:
    tokens.append(f"[PAD{len(tokens)}]")
w.add_tokenizer_model("llama")
w.add_token_list(tokens)
w.add_token_scores([0.0] * len(tokens))
types = [gguf.TokenType.NORMAL] * len(tokens)
for i in (0, 1, 2):
    types[i] = gguf.TokenType.CONTROL
w.add_token_types(types)
w.add_bos_token_id(1); w.add_eos_token_id(2); w.add_unk_token_id(0)
for hf, gg in pairs:
    f = index[hf]
    with safe_open(os.path.join(src, f), framework="np") as h:
        sl = h.get_slice(hf)
        shape = sl.get_shape()
    dtype = np.float32 if gg.endswith("norm.weight") else np.float16
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    w.add_tensor_info(gg, shape, np.dtype(dtype), nbytes)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_ti_data_to_file()
for hf, gg in pairs:
    t = tensor(hf)
    t = t.astype(np.float32) if gg.endswith("norm.weight") else t.astype(np.float16)
    w.write_tensor_data(t)
w.close()
print("wrote", out)
