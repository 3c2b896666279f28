"""The Python path users run today, as the baseline: torch.load + fairseq -> HF key rename + safetensors save_file.

Pretraining checkpoints only (what bench/make-checkpoint.mjs writes). Drops label_embs_concat / final_proj.* as the
transformers converter does. Timing and peak RSS are taken from outside (/usr/bin/time -v) by bench/convert.mjs.

Usage: /work/venv/bin/python bench/python_convert.py <checkpoint.pt> <out_dir>
"""
import os
import re
import sys

import torch
from safetensors.torch import save_file

RENAMES = [
    (r"^feature_extractor\.conv_layers\.(\d+)\.0\.", r"feature_extractor.conv_layers.\1.conv."),
    (r"^feature_extractor\.conv_layers\.(\d+)\.2\.1\.", r"feature_extractor.conv_layers.\1.layer_norm."),
    (r"^feature_extractor\.conv_layers\.0\.2\.", r"feature_extractor.conv_layers.0.layer_norm."),
    (r"^post_extract_proj\.", "feature_projection.projection."),
    (r"^layer_norm\.", "feature_projection.layer_norm."),
    (r"^encoder\.pos_conv\.0\.", "encoder.pos_conv_embed.conv."),
    (r"\.self_attn_layer_norm\.", ".layer_norm."),
    (r"\.self_attn\.", ".attention."),
    (r"\.fc1\.", ".feed_forward.intermediate_dense."),
    (r"\.fc2\.", ".feed_forward.output_dense."),
    (r"^mask_emb$", "masked_spec_embed"),
]
DROPPED = re.compile(r"^(label_embs_concat|final_proj\..*)$")


def rename(key):
    for pattern, repl in RENAMES:
        key = re.sub(pattern, repl, key)
    return key


def main():
    src, out = sys.argv[1], sys.argv[2]
    ckpt = torch.load(src, map_location="cpu", weights_only=True)
    state = {rename(k): v for k, v in ckpt["model"].items() if not DROPPED.match(k)}
    os.makedirs(out, exist_ok=True)
    save_file(state, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})


if __name__ == "__main__":
    main()
