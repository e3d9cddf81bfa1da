"""Goldens for the rest of transformers' VipLlava API on the tiny fixtures: VipLlavaModel (no LM head), hidden
states, attentions, inputs_embeds in place of ids, image_hidden_states, vision_feature_layers per call and the
placeholder check's error.

For tests/fixtures/tiny-llama and tiny-mistral, loaded in fp32 with eager attention (the implementation that
returns attention weights), writes tests/fixtures/goldens/model_outputs/<name>.{json,safetensors}:

* VipLlavaModel.forward(input_ids, pixel_values, output_hidden_states, output_attentions): last_hidden_state,
  every hidden state (embeddings, then each layer; the last one after the final norm), every layer's attention
  weights [batch, heads, seq, seq], image_hidden_states;
* the same batch left-padded with an attention mask (attentions of padded rows included);
* VipLlavaForConditionalGeneration.forward(inputs_embeds=embed(ids), pixel_values): logits, the image rows found by
  comparing embeddings with the image token's, as get_placeholder_mask does;
* get_image_features(pixel_values, vision_feature_layers=other layers) and forward with them;
* the error get_placeholder_mask raises when features and tokens differ.

Run: python tools/make_model_output_fixtures.py (transformers 5.18.0, torch).
"""
import json
import os

import torch
from safetensors.torch import save_file

import transformers
from transformers import VipLlavaForConditionalGeneration, VipLlavaModel

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
OUT = os.path.join(FIX, "goldens", "model_outputs")
IMAGE = 32000
PAD = 32001

# other layers with as many entries as the config's, so the projector still fits
OTHER_LAYERS = {"tiny-llama": [-1, -3, -6, 2, 5], "tiny-mistral": -1}


def goldens(name: str) -> None:
    folder = os.path.join(FIX, name)
    model = VipLlavaForConditionalGeneration.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    base = VipLlavaModel.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    vc = model.config.vision_config
    per_image = (vc.image_size // vc.patch_size) ** 2
    g = torch.Generator().manual_seed(11)
    pixels = torch.randn(2, 3, vc.image_size, vc.image_size, generator=g)
    ids = lambda n: torch.randint(3, 31999, (n,), generator=g).tolist()
    single = [1] + ids(3) + [IMAGE] * per_image + ids(4)
    short = [1] + ids(2) + [IMAGE] * per_image + ids(2)
    width = max(len(single), len(short))
    batch = [[PAD] * (width - len(r)) + r for r in (single, short)]
    mask = [[0] * (width - len(r)) + [1] * len(r) for r in (single, short)]
    tensors = {"pixel_values": pixels}
    meta = {"transformers_version": transformers.__version__, "single": single, "batch": batch, "mask": mask, "other_layers": OTHER_LAYERS[name]}
    with torch.no_grad():
        out = base(input_ids=torch.tensor([single]), pixel_values=pixels[:1], output_hidden_states=True, output_attentions=True)
        tensors["base_last_hidden_state"] = out.last_hidden_state[0]
        tensors["base_hidden_states"] = torch.stack([h[0] for h in out.hidden_states])  # [L+1, S, H]
        tensors["base_attentions"] = torch.stack([a[0] for a in out.attentions])  # [L, heads, S, S]
        tensors["base_image_hidden_states"] = out.image_hidden_states  # [1, P, H]
        meta["hidden_states"] = len(out.hidden_states)
        out = base(input_ids=torch.tensor(batch), attention_mask=torch.tensor(mask), pixel_values=pixels, output_hidden_states=True, output_attentions=True)
        tensors["batch_last_hidden_state"] = out.last_hidden_state
        tensors["batch_attentions"] = torch.stack(list(out.attentions))  # [L, B, heads, S, S]
        tensors["batch_hidden_states"] = torch.stack(list(out.hidden_states))  # [L+1, B, S, H]
        # the full model on embeddings instead of ids: the image rows are found by their embedding
        embeds = model.get_input_embeddings()(torch.tensor([single]))
        out = model(inputs_embeds=embeds, pixel_values=pixels[:1], output_hidden_states=True)
        tensors["embeds_logits"] = out.logits[0, -3:]
        tensors["embeds_last_hidden"] = out.hidden_states[-1][0]
        # other feature layers per call
        feats = model.get_image_features(pixels, vision_feature_layers=OTHER_LAYERS[name]).pooler_output
        tensors["other_layer_features"] = feats
        out = model(input_ids=torch.tensor([single]), pixel_values=pixels[:1], vision_feature_layers=OTHER_LAYERS[name])
        tensors["other_layer_logits"] = out.logits[0, -3:]
        try:
            model(input_ids=torch.tensor([single]), pixel_values=pixels)
        except Exception as e:  # noqa: BLE001 - the message is the golden
            meta["mismatch_error"] = str(e)
    os.makedirs(OUT, exist_ok=True)
    save_file({k: v.contiguous().to(torch.float32) for k, v in tensors.items()}, os.path.join(OUT, f"{name}.safetensors"))
    json.dump(meta, open(os.path.join(OUT, f"{name}.json"), "w"), indent=1)


def main():
    for name in OTHER_LAYERS:
        goldens(name)


if __name__ == "__main__":
    main()
