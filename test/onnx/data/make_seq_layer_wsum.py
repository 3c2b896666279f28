"""Dev-time generator of the seq_layer_wsum test model (run once; the outputs are committed): a tiny pre-LN,
layer-norm HubertForSequenceClassification with use_weighted_layer_sum, the one head/feature combination the
fixture set lacks (masked mean pooling + softmax-weighted hidden states, 5.x pre-LN semantics).
Usage: /work/venv/bin/python test/onnx/data/make_seq_layer_wsum.py"""
import os

import torch
from safetensors.torch import save_file
from transformers import HubertConfig, HubertForSequenceClassification

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
cfg = HubertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, conv_dim=[16] * 7,
                   conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2], num_conv_pos_embeddings=16,
                   num_conv_pos_embedding_groups=4, classifier_proj_size=8, num_labels=3, feat_extract_norm="layer",
                   do_stable_layer_norm=True, use_weighted_layer_sum=True, conv_bias=True)
model = HubertForSequenceClassification(cfg).eval()
with torch.no_grad():
    for _, p in model.named_parameters():
        p.add_(torch.randn_like(p) * 0.2)
model.save_pretrained(os.path.join(here, "seq_layer_wsum"))
g = torch.Generator().manual_seed(1)
single = torch.randn(1, 16000, generator=g)
batch = torch.randn(2, 16000, generator=g)
batch[1, 11000:] = 0
mask = torch.ones(2, 16000, dtype=torch.long)
mask[1, 11000:] = 0
out = {"input.single": single, "input.batch": batch, "input.batch_mask": mask}
with torch.no_grad():
    for tag, x, am in [("single", single, None), ("batch", batch, mask)]:
        r = model(x, attention_mask=am, output_hidden_states=True)
        out[f"{tag}.logits"] = r.logits
        for i, h in enumerate(r.hidden_states):
            out[f"{tag}.hidden_states.{i}"] = h
save_file({k: v.clone().contiguous() for k, v in out.items()}, os.path.join(here, "seq_layer_wsum.golden.safetensors"))
