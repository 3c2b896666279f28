"""The Python peer of `hubert-convert verify <folder>` for bench/verify.mjs: what a release script does with
transformers and onnxruntime to check a converted folder. It loads the folder with transformers (feature extractor
and model), runs it on a 1 s input and a padded batch of 1 s + 0.6875 s (the lengths verify uses), runs every ONNX
variant in onnxruntime on the same inputs, and compares each output with the torch one (max abs, cosine).

Usage: python bench/python_verify.py <folder>   (prints one JSON line: timings and the comparisons)
"""
import json
import os
import sys
import time

# no onnxruntime telemetry files or uploads, also when run by hand (bench/common.mjs sets it for the benches)
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

started = time.perf_counter()
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from transformers import AutoFeatureExtractor, AutoModel  # noqa: E402

imported = time.perf_counter()
folder = sys.argv[1]
RATE = 16000


def speech_like(samples: int, seed: int) -> np.ndarray:
    """A voiced, syllable-shaped signal with a noise floor (values matter little here; the shapes do)."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / RATE
    f0 = 120 + 35 * np.sin(2 * np.pi * 0.8 * t + seed)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 25))
    envelope = np.maximum(0, np.sin(2 * np.pi * (3 + 0.37 * seed) * t)) ** 1.5
    signal = voiced * envelope + 0.02 * (rng.random(samples) - 0.5)
    return (0.6 * signal / np.abs(signal).max()).astype(np.float32)


extractor = AutoFeatureExtractor.from_pretrained(folder)
model = AutoModel.from_pretrained(folder).eval()
loaded = time.perf_counter()

inputs = {
    "single": extractor([speech_like(16000, 1)], sampling_rate=RATE, return_tensors="np", return_attention_mask=True),
    "batch": extractor([speech_like(16000, 1), speech_like(11000, 2)], sampling_rate=RATE, padding=True, return_tensors="np", return_attention_mask=True),
}
uses_mask = bool(extractor.return_attention_mask)

torch_out = {}
with torch.inference_mode():
    for name, features in inputs.items():
        kwargs = {"input_values": torch.from_numpy(features["input_values"])}
        if uses_mask:
            kwargs["attention_mask"] = torch.from_numpy(features["attention_mask"])
        torch_out[name] = model(**kwargs)[0].numpy().astype(np.float64)
forwarded = time.perf_counter()

comparisons = []
sessions = {}
for file in sorted(os.listdir(os.path.join(folder, "onnx"))):
    if not file.endswith(".onnx"):
        continue
    t0 = time.perf_counter()
    session = ort.InferenceSession(os.path.join(folder, "onnx", file), providers=["CPUExecutionProvider"])
    t1 = time.perf_counter()
    graph_inputs = {i.name for i in session.get_inputs()}
    for name, features in inputs.items():
        feeds = {"input_values": features["input_values"].astype(np.float32)}
        if "attention_mask" in graph_inputs:
            feeds["attention_mask"] = features["attention_mask"].astype(np.int64)
        actual = session.run(None, feeds)[0].astype(np.float64)
        expected = torch_out[name]
        cosine = float(np.dot(actual.ravel(), expected.ravel()) / (np.linalg.norm(actual) * np.linalg.norm(expected)))
        comparisons.append({"file": file, "input": name, "maxAbs": float(np.abs(actual - expected).max()), "cosine": cosine})
    sessions[file] = {"load": t1 - t0, "runs": time.perf_counter() - t1}
    del session

finished = time.perf_counter()
print(json.dumps({
    "import": imported - started,
    "load": loaded - imported,
    "torchForward": forwarded - loaded,
    "onnx": sessions,
    "total": finished - started,
    "comparisons": comparisons,
    "torch": torch.__version__,
    "onnxruntime": ort.__version__,
}))
