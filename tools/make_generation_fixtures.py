"""Generation goldens: what transformers' generate() returns for the tiny checkpoints under beam search,
repetition penalty, no-repeat-n-gram, bad words, sequence bias, suppression, min-new-tokens and stop strings,
and what its logits processors and warpers do to crafted scores.

Run after make_fixtures.py and make_processor_fixtures.py (same environment):

    python tools/make_generation_fixtures.py

Writes tests/fixtures/goldens/generation/{tiny-llama,tiny-mistral,warpers}.json.
"""

import json
import math
import os
import sys

import torch

import transformers
from transformers import LlavaProcessor, VipLlavaForConditionalGeneration
from transformers.generation import logits_process as lp
from transformers.image_utils import load_image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(FIX, "goldens", "generation")


def tolist(x):
    return [v if math.isfinite(v) else ("-inf" if v < 0 else "inf") for v in x.tolist()]


def generation_goldens(name: str, pad: int = 32001) -> dict:
    """`pad` fills finished rows (32001 is <pad> in tiny-llama and tiny-mistral)."""
    folder = os.path.join(FIX, name)
    proc = LlavaProcessor.from_pretrained(folder, backend="pil")
    proc.tokenizer.padding_side = "left"
    model = VipLlavaForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()
    conv = lambda q: [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q}]}]
    prompts = [proc.apply_chat_template(conv("What is inside the red box?"), add_generation_prompt=True),
               proc.apply_chat_template(conv("Describe the image."), add_generation_prompt=True)]
    images = [load_image(os.path.join(FIX, "images", n)) for n in ("demo.png", "photo.jpg")]
    single = proc(text=prompts[0], images=images[:1], return_tensors="pt")
    batch = proc(text=[prompts[0], "A longer question first: " + prompts[1]], images=images, padding=True, return_tensors="pt")

    def run(inputs, **kw):
        with torch.no_grad():
            out = model.generate(**inputs, do_sample=False, pad_token_id=pad, **kw)
        return out.tolist()

    greedy = run(single, max_new_tokens=16, eos_token_id=2)[0]
    plen = single["input_ids"].shape[1]
    g = greedy[plen:]
    cases = {}

    def case(key, inputs_name, **kw):
        inputs = single if inputs_name == "single" else batch
        cases[key] = {"inputs": inputs_name, "kwargs": kw, "output": run(inputs, **kw)}

    # Greedy with each processor.
    case("greedy", "single", max_new_tokens=16, eos_token_id=2)
    case("repetition_penalty", "single", max_new_tokens=16, eos_token_id=2, repetition_penalty=1.3)
    case("repetition_penalty_batch", "batch", max_new_tokens=12, eos_token_id=2, repetition_penalty=0.7)
    case("no_repeat_ngram_2", "single", max_new_tokens=24, eos_token_id=2, no_repeat_ngram_size=2)
    case("no_repeat_ngram_1", "batch", max_new_tokens=12, eos_token_id=2, no_repeat_ngram_size=1)
    case("min_new_tokens", "single", max_new_tokens=12, eos_token_id=[g[2], g[5]], min_new_tokens=8)
    case("min_length", "single", max_new_tokens=12, eos_token_id=g[1], min_length=plen + 4)
    case("bad_words", "single", max_new_tokens=12, eos_token_id=2, bad_words_ids=[[g[0]], [g[2], g[3]], [g[6]]])
    case("sequence_bias", "single", max_new_tokens=12, eos_token_id=2,
         sequence_bias=[[[g[1]], -20.0], [[g[2], g[3]], -30.0], [[g[4]], 3.5]])
    case("suppress_tokens", "single", max_new_tokens=12, eos_token_id=2, suppress_tokens=[g[0], g[3]],
         begin_suppress_tokens=[g[1]])
    case("eos_early_batch", "batch", max_new_tokens=12, eos_token_id=[g[3], 2])
    # Beam search.
    case("beam_default", "single", max_new_tokens=10, eos_token_id=2, num_beams=3)
    case("beam_return_2", "single", max_new_tokens=10, eos_token_id=2, num_beams=3, num_return_sequences=2)
    case("beam_eos", "single", max_new_tokens=10, eos_token_id=[g[2], g[5]], num_beams=4, num_return_sequences=3)
    case("beam_early_true", "single", max_new_tokens=10, eos_token_id=[g[1], g[4]], num_beams=3, early_stopping=True,
         length_penalty=0.5, num_return_sequences=3)
    case("beam_never", "single", max_new_tokens=10, eos_token_id=[g[1], g[4]], num_beams=3, early_stopping="never",
         length_penalty=2.0)
    case("beam_batch", "batch", max_new_tokens=8, eos_token_id=[g[2], 2], num_beams=2, num_return_sequences=2,
         length_penalty=-0.5)
    case("beam_penalties", "single", max_new_tokens=10, eos_token_id=2, num_beams=3, repetition_penalty=1.2,
         no_repeat_ngram_size=2)
    # Stop strings: one taken from the middle of the greedy continuation, spanning a token boundary.
    text = proc.tokenizer.decode(g, skip_special_tokens=True)
    piece_start = len(proc.tokenizer.decode(g[:5], skip_special_tokens=True))
    stop = text[piece_start - 2 : piece_start + 2]
    with torch.no_grad():
        out = model.generate(**single, do_sample=False, pad_token_id=pad, max_new_tokens=16, eos_token_id=2,
                             stop_strings=[stop, "never-matches"], tokenizer=proc.tokenizer)
    cases["stop_strings"] = {"inputs": "single", "kwargs": {"max_new_tokens": 16, "eos_token_id": 2,
                             "stop_strings": [stop, "never-matches"]}, "output": out.tolist()}
    return {
        "transformers": transformers.__version__,
        "pad_token_id": pad,
        "prompts": prompts,
        "images": ["demo.png", "photo.jpg"],
        "batch_texts": [prompts[0], "A longer question first: " + prompts[1]],
        "single_input_ids": single["input_ids"].tolist(),
        "batch_input_ids": batch["input_ids"].tolist(),
        "cases": cases,
    }


def warper_goldens() -> dict:
    """Crafted scores (ties at the top-k threshold, top-p boundaries, -inf entries) through each warper."""
    vectors = {
        "ties": [3.0, 1.0, 1.0, 1.0, 0.5, -1.0, 2.0, 1.0],
        "spread": [0.1, -2.3, 4.2, 1.7, 1.7, -0.4, 3.3, 0.0, -7.5, 2.2, 2.2, 0.9],
        "masked": [1.0, -math.inf, 0.5, 0.5, -math.inf, 2.0],
        "uniform": [0.0] * 6,
        "peaked": [12.0, 0.0, -1.0, -1.0, -3.0, 0.5],
    }
    specs = [
        ("temperature", lambda: lp.TemperatureLogitsWarper(0.7)),
        ("temperature_hot", lambda: lp.TemperatureLogitsWarper(1.9)),
        ("top_k_2", lambda: lp.TopKLogitsWarper(2)),
        ("top_k_3", lambda: lp.TopKLogitsWarper(3)),
        ("top_k_1_keep3", lambda: lp.TopKLogitsWarper(1, min_tokens_to_keep=3)),
        ("top_k_large", lambda: lp.TopKLogitsWarper(50)),
        ("top_p_0.5", lambda: lp.TopPLogitsWarper(0.5)),
        ("top_p_0.9", lambda: lp.TopPLogitsWarper(0.9)),
        ("top_p_0.0", lambda: lp.TopPLogitsWarper(0.0)),
        ("top_p_1.0", lambda: lp.TopPLogitsWarper(1.0)),
        ("top_p_0.3_keep2", lambda: lp.TopPLogitsWarper(0.3, min_tokens_to_keep=2)),
        ("min_p_0.1", lambda: lp.MinPLogitsWarper(0.1)),
        ("min_p_0.9_keep2", lambda: lp.MinPLogitsWarper(0.9, min_tokens_to_keep=2)),
        ("typical_0.5", lambda: lp.TypicalLogitsWarper(0.5)),
        ("typical_0.95", lambda: lp.TypicalLogitsWarper(0.95)),
        ("typical_0.2_keep3", lambda: lp.TypicalLogitsWarper(0.2, min_tokens_to_keep=3)),
        ("epsilon_0.05", lambda: lp.EpsilonLogitsWarper(0.05)),
        ("epsilon_0.3_keep2", lambda: lp.EpsilonLogitsWarper(0.3, min_tokens_to_keep=2)),
        ("eta_0.05", lambda: lp.EtaLogitsWarper(0.05)),
        ("eta_0.3", lambda: lp.EtaLogitsWarper(0.3)),
        ("repetition_1.5", lambda: lp.RepetitionPenaltyLogitsProcessor(1.5)),
        ("repetition_0.5", lambda: lp.RepetitionPenaltyLogitsProcessor(0.5)),
        ("no_repeat_2", lambda: lp.NoRepeatNGramLogitsProcessor(2)),
        ("no_repeat_3", lambda: lp.NoRepeatNGramLogitsProcessor(3)),
    ]
    history = [[2, 5, 2, 3, 2, 5, 7, 2], [1, 1, 1, 4, 0, 1]]
    out = {"history": history, "vectors": {k: tolist(torch.tensor(v)) for k, v in vectors.items()}, "results": {}}
    for name, make in specs:
        res = {}
        for vname, v in vectors.items():
            scores = torch.tensor([v, v], dtype=torch.float32)
            n = len(v)
            ids = torch.tensor([[t % n for t in history[0]], [t % n for t in history[1]] + [0, 0]])
            ids[1, 6:] = ids[1, :2]
            res[vname] = [tolist(r) for r in make()(ids, scores.clone())]
        out["results"][name] = res
    out["ids_used"] = None  # the histories, reduced mod the vector length, second row padded with its first two
    return out


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    for name in ("tiny-llama", "tiny-mistral"):
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            json.dump(generation_goldens(name), f)
    with open(os.path.join(OUT, "warpers.json"), "w") as f:
        json.dump(warper_goldens(), f)
    print("generation goldens written")


if __name__ == "__main__":
    sys.exit(main())
