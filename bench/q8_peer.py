"""Dev-time helper for bench/q8.mjs: the Python peer of our quantized graphs, made from one of our HF folders.

  1. transformers HubertModel.from_pretrained(<hf_dir>) in eval mode runs the input (a float32 .npy [1, N]) and saves
     last_hidden_state as torch.npy: the reference every graph's cosine is measured against.
  2. torch.onnx.export (opset 17, TorchScript exporter, as optimum does) writes peer_fp32.onnx.
  3. onnxruntime.quantization.quantize_dynamic(per_channel=True, op_types_to_quantize=["MatMul"]) writes
     peer_q8.onnx: signed int8 weights (the function's default), full 8-bit range (reduce_range=False), uint8
     activations quantized at run time.

  4. with --4bit also onnxruntime's own 4-bit quantizers on the fp32 graph: MatMulNBitsQuantizer (block 32, symmetric;
     what transformers.js's q4 is) → peer_q4.onnx and MatMulBnb4Quantizer (NF4, block 64) → peer_bnb4.onnx.

Usage: /work/venv/bin/python bench/q8_peer.py <hf_dir> <input.npy> <out_dir> [--4bit]
"""
import os
import sys

# no onnxruntime telemetry files or uploads, also when run by hand (bench/common.mjs sets it for the benches)
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: E402
from transformers import HubertModel  # noqa: E402

hf_dir, input_path, out = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
model = HubertModel.from_pretrained(hf_dir).eval()
x = torch.from_numpy(np.load(input_path))
with torch.no_grad():
    np.save(os.path.join(out, "torch.npy"), model(x).last_hidden_state.numpy())

fp32 = os.path.join(out, "peer_fp32.onnx")
torch.onnx.export(
    model, (x[:, :16000],), fp32, opset_version=17, dynamo=False,
    input_names=["input_values"], output_names=["last_hidden_state"],
    dynamic_axes={"input_values": {0: "batch_size", 1: "sequence_length"}, "last_hidden_state": {0: "batch_size", 1: "num_frames"}},
)
quantize_dynamic(fp32, os.path.join(out, "peer_q8.onnx"), per_channel=True, reduce_range=False, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
if "--4bit" in sys.argv[4:]:
    import onnx
    from onnxruntime.quantization.matmul_bnb4_quantizer import MatMulBnb4Quantizer
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    q4 = MatMulNBitsQuantizer(onnx.load(fp32), block_size=32, is_symmetric=True)
    q4.process()
    onnx.save(q4.model.model, os.path.join(out, "peer_q4.onnx"))
    bnb4 = MatMulBnb4Quantizer(onnx.load(fp32), MatMulBnb4Quantizer.NF4, 64)
    bnb4.process()
    onnx.save(bnb4.model.model, os.path.join(out, "peer_bnb4.onnx"))
print("ok", out)
