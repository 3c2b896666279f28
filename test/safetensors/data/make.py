"""Regenerates the reference files of test/safetensors (dev only; CI never runs Python).

    /work/venv/bin/python test/safetensors/data/make.py

reference_*.safetensors are written by safetensors.torch.save_file; the matching .json lists every tensor's dtype,
shape and little-endian bytes (hex) as torch holds them, so tests need no Python to know the expected values.
casts.safetensors holds float sources and torch's own casts of them (.half(), .bfloat16(), .float()).
"""
import json
import os

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = {torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16", torch.float16: "F16",
         torch.bfloat16: "BF16", torch.int32: "I32", torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def raw(t):
    t = t.contiguous()
    return t.view(torch.uint8).numpy().tobytes() if t.dim() > 0 and t.numel() > 0 else t.reshape(-1).view(torch.uint8).numpy().tobytes()


def save(name, tensors, metadata):
    save_file(tensors, os.path.join(HERE, name + ".safetensors"), metadata=metadata)
    listing = [{"name": k, "dtype": NAMES[v.dtype], "shape": list(v.shape), "hex": raw(v).hex()} for k, v in tensors.items()]
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump({"metadata": metadata, "tensors": listing}, f, indent=1)
        f.write("\n")


g = torch.Generator().manual_seed(1234)
all_dtypes = {
    # names deliberately out of order and mixed dtypes, so the writer's ordering rule is visible in the bytes
    "z.f32": torch.randn(3, 5, generator=g),
    "a.f16": torch.randn(7, generator=g).half(),
    "m.bf16": torch.randn(2, 3, generator=g).bfloat16(),
    "b.f64": torch.randn(2, 2, generator=g).double(),
    "c.i64": torch.randint(-2**40, 2**40, (3,), generator=g),
    "y.i32": torch.randint(-2**30, 2**30, (2, 2), generator=g).int(),
    "x.i16": torch.randint(-2**15, 2**15, (5,), generator=g).short(),
    "d.i8": torch.randint(-128, 128, (3,), generator=g).to(torch.int8),
    "e.u8": torch.randint(0, 256, (9,), generator=g).to(torch.uint8),
    "f.bool": torch.tensor([True, False, True]),
    "scalar.f32": torch.tensor(3.25),
    "scalar.i64": torch.tensor(-7),
    "empty.f32": torch.zeros(0, 4),
    "empty.f16": torch.zeros(2, 0).half(),
    "w.u8odd": torch.tensor([1, 2, 3], dtype=torch.uint8),
}
save("reference_all_dtypes", all_dtypes, {"format": "pt"})
save("reference_no_metadata", {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.tensor([1, 2], dtype=torch.int16)}, None)

# float cast cases: ties, subnormals, overflow, NaN, signed zeros
f16_tie = [2.0**-25, 3 * 2.0**-25, 2.0**-24 + 2.0**-25, 1 + 2.0**-11, 1 + 3 * 2.0**-11, 2048 + 1, 65504, 65519, 65520, 65536]
bf16_tie = [1 + 2.0**-8, 1 + 3 * 2.0**-8, 1 + 2.0**-8 + 2.0**-20, 3.3895314e38, 3.4e38, 2.0**-133, 1e-40, 2.0**-149]
special = [0.0, -0.0, 1.0, -1.0, float("inf"), float("-inf"), float("nan"), -float("nan"), 6.1e-5, 6.0e-8, 5.9e-8, 1e-8,
           -2.0**-24, 1e10, -1e10, 0.1, 1 / 3]
values = torch.tensor(f16_tie + bf16_tie + special + [-v for v in f16_tie + bf16_tie], dtype=torch.float32)
values = torch.cat([values, torch.randn(200, generator=g) * 100, torch.randn(50, generator=g) * 1e-5])
payload_nans = torch.tensor([0x7F800001, 0x7FFFFFFF, -1, 0x7FA00000], dtype=torch.int32).view(torch.float32)
nan = float("nan")
f64 = torch.cat([torch.tensor([1 + 2.0**-11 + 2.0**-40, 1 + 2.0**-8 + 2.0**-40, 2.0**-25 + 2.0**-60, 65519.99999, 1e300, -1e-300,
                               float("inf"), nan, -nan], dtype=torch.float64),
                 torch.randn(100, generator=g, dtype=torch.float64)])
f16_src = torch.cat([torch.randn(64, generator=g).half(), torch.tensor([0x0001, 0x03FF, 0x7C00, 0x7E00, 0xFE00, 0x7C01, 0xFBFF], dtype=torch.int32).short().view(torch.float16)])
bf16_src = torch.cat([torch.randn(64, generator=g).bfloat16(), torch.tensor([0x0001, 0x7F80, 0x7FC0, 0xFFC0, 0x7F81, 0x7F7F, 0x477F, 0x3380], dtype=torch.int32).short().view(torch.bfloat16)])
casts = {
    "f32": values, "f32.to_f16": values.half(), "f32.to_bf16": values.bfloat16(), "f32.to_f64": values.double(),
    "nan_payload.f32": payload_nans, "nan_payload.to_f16": payload_nans.half(), "nan_payload.to_bf16": payload_nans.bfloat16(),
    "f64": f64, "f64.to_f32": f64.float(), "f64.to_f16": f64.half(), "f64.to_bf16": f64.bfloat16(),
    "f16": f16_src, "f16.to_f32": f16_src.float(), "f16.to_bf16": f16_src.bfloat16(), "f16.to_f64": f16_src.double(),
    "bf16": bf16_src, "bf16.to_f32": bf16_src.float(), "bf16.to_f16": bf16_src.half(),
}
save("casts", casts, {"format": "pt"})

# a sharded folder as save_pretrained lays it out: huggingface_hub's split, save_file per shard, transformers' index
from huggingface_hub import split_torch_state_dict_into_shards  # noqa: E402

sharded_dir = os.path.join(HERE, "reference_sharded")
os.makedirs(sharded_dir, exist_ok=True)
state = {
    "encoder.layers.1.w": torch.randn(4, 4, generator=g),        # 64 bytes
    "encoder.layers.0.w": torch.randn(4, 4, generator=g),        # 64
    "encoder.layers.0.b": torch.randn(4, generator=g).half(),    # 8
    "embed.big": torch.randn(40, generator=g).double(),          # 320: over the limit, a shard of its own
    "head.ids": torch.arange(10, dtype=torch.int64),             # 80
    "head.mask": torch.tensor([True, False]),                    # 2
}
MAX_SHARD = 100
split = split_torch_state_dict_into_shards(state, filename_pattern="model{suffix}.safetensors", max_shard_size=MAX_SHARD)
for filename, names in split.filename_to_tensors.items():
    save_file({n: state[n] for n in names}, os.path.join(sharded_dir, filename), metadata={"format": "pt"})
index = {"metadata": {"total_size": split.metadata["total_size"]}, "weight_map": split.tensor_to_filename}
with open(os.path.join(sharded_dir, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
    f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
listing = [{"name": k, "dtype": NAMES[v.dtype], "shape": list(v.shape), "hex": raw(v).hex()} for k, v in state.items()]
with open(os.path.join(HERE, "reference_sharded.json"), "w") as f:
    json.dump({"metadata": {"format": "pt"}, "maxShardBytes": MAX_SHARD, "tensors": listing}, f, indent=1)
    f.write("\n")
