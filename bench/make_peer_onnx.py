"""Dev-time helper for bench/onnx-latency.mjs: a random-weight HuBERT-base (transformers HubertModel, default config)
saved as an HF folder, and the same model exported by torch.onnx.export (opset 17, TorchScript exporter, the graph
optimum produces) as the peer to compare against. Usage: make_peer_onnx.py <out_dir>"""
import os
import sys

import torch
from transformers import HubertConfig, HubertModel

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
config = HubertConfig()  # base geometry: conv 512 x7, hidden 768, 12 layers, 12 heads, ffn 3072, pos-conv 128/16
model = HubertModel(config).eval()
with torch.no_grad():
    # weight_g is initialised to the norms of weight_v (a no-op reparametrisation); perturb it like a trained model
    for name, p in model.named_parameters():
        if "original0" in name or "weight_g" in name:
            p.mul_(1 + 0.1 * torch.randn_like(p))
model.save_pretrained(out)
dummy = torch.randn(1, 16000)
torch.onnx.export(
    model, (dummy,), os.path.join(out, "peer.onnx"), opset_version=17, dynamo=False,
    input_names=["input_values"], output_names=["last_hidden_state"],
    dynamic_axes={"input_values": {0: "batch_size", 1: "sequence_length"}, "last_hidden_state": {0: "batch_size", 1: "num_frames"}},
)
print("ok", out)
