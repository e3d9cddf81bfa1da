"""A SentencePiece tokenizer.model like Llama-2's / Vicuna's, and what transformers makes of it.

The original ViP-LLaVA checkpoints (mucai/vip-llava-*) ship only `tokenizer.model` (a SentencePiece BPE
ModelProto) and `tokenizer_config.json`, no tokenizer.json. This script writes

* tests/fixtures/sentencepiece/tokenizer.model: a ModelProto with Llama-2's 32000 pieces (taken from the
  committed tests/fixtures/llama2_tokenizer.json), Llama's piece types (<unk> unknown, <s> </s> control, 256
  byte pieces), scores falling with the id as Llama's do, and Llama's trainer/normalizer settings (BPE,
  byte_fallback, identity normalizer, dummy prefix, no whitespace squashing);
* tests/fixtures/goldens/sentencepiece.json: for tokenizer_config.json variants (legacy true/false,
  add_bos/add_eos), the ids transformers 5.18's LlamaTokenizer gives for a set of texts loaded from that
  folder (only tokenizer.model + tokenizer_config.json, so transformers converts the ModelProto itself), the
  ids the sentencepiece library gives (legacy semantics), and decodes.

Run: python tools/make_sentencepiece_fixtures.py (transformers 5.18.0, sentencepiece 0.2, protobuf).
"""
import json
import os
import shutil
import tempfile

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

import transformers
from transformers import AutoTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
OUT = os.path.join(ROOT, "sentencepiece")

TEXTS = [
    "Hello world",
    " leading space",
    "two  spaces and\ttab\nnewline",
    "\nWhat is within the red rectangle? ASSISTANT:",
    "A chat between a curious human and an artificial intelligence assistant. USER: ",
    "ASSISTANT: a blue square</s>USER: and this?",
    "<s>bos inside</s> text <unk>",
    "emoji 🦙 and ünïcödé 漢字 ½",
    "",
    " ",
    "trailing space ",
    "▁already▁metaspace",
]

CONFIGS = {
    # the tokenizer_config.json LLaVA's trainer saved with Vicuna v1.5 (pad = unk, right padding)
    "vicuna": {"legacy": False, "add_bos_token": True, "add_eos_token": False, "pad_token": "<unk>", "padding_side": "right"},
    "legacy": {"legacy": True, "add_bos_token": True, "add_eos_token": False},
    "eos": {"legacy": False, "add_bos_token": False, "add_eos_token": True},
}


def model_proto() -> pb.ModelProto:
    vocab = json.load(open(os.path.join(ROOT, "llama2_tokenizer.json")))["model"]["vocab"]
    pieces = sorted(vocab.items(), key=lambda kv: kv[1])
    m = pb.ModelProto()
    for piece, i in pieces:
        p = m.pieces.add()
        p.piece = piece
        if i == 0:
            p.type, p.score = pb.ModelProto.SentencePiece.UNKNOWN, 0.0
        elif i in (1, 2):
            p.type, p.score = pb.ModelProto.SentencePiece.CONTROL, 0.0
        elif piece.startswith("<0x") and len(piece) == 6:
            p.type, p.score = pb.ModelProto.SentencePiece.BYTE, 0.0
        else:
            p.type, p.score = pb.ModelProto.SentencePiece.NORMAL, -float(i - 259)
    t = m.trainer_spec
    t.model_type = pb.TrainerSpec.BPE
    t.vocab_size = len(pieces)
    t.byte_fallback = True
    t.unk_id, t.bos_id, t.eos_id, t.pad_id = 0, 1, 2, -1
    n = m.normalizer_spec
    n.name = "identity"
    n.add_dummy_prefix = True
    n.remove_extra_whitespaces = False
    n.escape_whitespaces = True
    return m


def tokenizer_config(extra: dict) -> dict:
    special = {"content": "", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
    return {
        "added_tokens_decoder": {str(i): {**special, "content": s} for i, s in enumerate(["<unk>", "<s>", "</s>"])},
        "bos_token": "<s>",
        "clean_up_tokenization_spaces": False,
        "eos_token": "</s>",
        "model_max_length": 2048,
        "sp_model_kwargs": {},
        "tokenizer_class": "LlamaTokenizer",
        "unk_token": "<unk>",
        **extra,
    }


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    model_file = os.path.join(OUT, "tokenizer.model")
    with open(model_file, "wb") as f:
        f.write(model_proto().SerializeToString())
    sp = spm.SentencePieceProcessor(model_file=model_file)
    goldens = {"transformers": transformers.__version__, "sentencepiece": spm.__version__, "texts": TEXTS, "configs": {}}
    # the library itself, legacy semantics (what the original repo's slow LlamaTokenizer did on plain text)
    goldens["sentencepiece_ids"] = [sp.encode(t) for t in TEXTS]
    for name, extra in CONFIGS.items():
        with tempfile.TemporaryDirectory() as d:
            shutil.copy(model_file, d)
            config = tokenizer_config(extra)
            json.dump(config, open(os.path.join(d, "tokenizer_config.json"), "w"), indent=2)
            tok = AutoTokenizer.from_pretrained(d)
            ids = [tok(t).input_ids for t in TEXTS]
            goldens["configs"][name] = {
                "tokenizer_config": config,
                "ids": ids,
                "no_special": [tok(t, add_special_tokens=False).input_ids for t in TEXTS],
                "decoded": [tok.decode(i) for i in ids],
                "decoded_skip": [tok.decode(i, skip_special_tokens=True) for i in ids],
                "pad_token_id": tok.pad_token_id,
                "vocab_size": len(tok),
            }
    json.dump(goldens, open(os.path.join(ROOT, "goldens", "sentencepiece.json"), "w"), indent=1, ensure_ascii=False)
    print("wrote", model_file, os.path.getsize(model_file), "bytes")


if __name__ == "__main__":
    main()
