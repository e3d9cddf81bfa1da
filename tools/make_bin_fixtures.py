"""PyTorch .bin fixtures, written by torch.save itself (the zip + pickle format the published mucai/* checkpoints use).

tests/fixtures/tiny-llama-bin: tests/fixtures/tiny-llama's weights as float16 in two pytorch_model-*.bin shards
with pytorch_model.bin.index.json (the layout of a sharded .bin checkpoint); the test puts tiny-llama's config and
tokenizer files beside them.
tests/fixtures/bin-odd: a single .bin whose state dict holds a view at a storage offset, two tensors sharing one
storage, an int64 buffer and a bfloat16 tensor; odd.json lists their values as torch sees them.
tests/fixtures/malicious.bin: a pickle whose load would call os.system (it must be refused, never run).

Run: python tools/make_bin_fixtures.py (torch, safetensors).
"""
import json
import os
import shutil
from collections import OrderedDict

import torch
from safetensors.torch import load_file

ROOT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
SRC = os.path.join(ROOT, "tiny-llama")
OUT = os.path.join(ROOT, "tiny-llama-bin")


def tiny_llama_bin():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    index = json.load(open(os.path.join(SRC, "model.safetensors.index.json")))
    state = OrderedDict()
    for shard in sorted(set(index["weight_map"].values())):
        state.update(load_file(os.path.join(SRC, shard)))
    names = list(state)
    halves = [names[: len(names) // 2], names[len(names) // 2 :]]
    weight_map = {}
    for i, part in enumerate(halves):
        file = f"pytorch_model-{i + 1:05d}-of-{len(halves):05d}.bin"
        torch.save(OrderedDict((n, state[n].to(torch.float16)) for n in part), os.path.join(OUT, file))
        weight_map.update({n: file for n in part})
    json.dump({"metadata": {"total_size": sum(t.numel() * 2 for t in state.values())}, "weight_map": weight_map}, open(os.path.join(OUT, "pytorch_model.bin.index.json"), "w"), indent=2)


def odd_bin():
    d = os.path.join(ROOT, "bin-odd")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    g = torch.Generator().manual_seed(3)
    base = torch.randn(40, generator=g)
    state = OrderedDict(
        [
            ("view", base[8:20].view(3, 4)),  # storage offset 8 of a 40-value storage
            ("shared_a", base),  # the same storage as "view"
            ("position_ids", torch.arange(7, dtype=torch.int64).unsqueeze(0)),
            ("bf16", torch.randn(2, 5, generator=g).to(torch.bfloat16)),
            ("half", torch.randn(3, generator=g).to(torch.float16)),
        ]
    )
    state._metadata = OrderedDict([("", {"version": 1})])  # as Module.state_dict() leaves it (a BUILD in the pickle)
    torch.save(state, os.path.join(d, "odd.bin"))
    json.dump({k: {"shape": list(v.shape), "values": v.float().flatten().tolist()} for k, v in state.items()}, open(os.path.join(d, "odd.json"), "w"))


class Boom:
    def __reduce__(self):
        return (os.system, ("echo the checkpoint ran code > /tmp/vipllava-pwned",))


def malicious():
    torch.save({"weight": torch.zeros(2), "boom": Boom()}, os.path.join(ROOT, "malicious.bin"))


if __name__ == "__main__":
    tiny_llama_bin()
    odd_bin()
    malicious()
