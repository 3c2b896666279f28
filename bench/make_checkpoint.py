"""Writes the same random-weight fairseq HuBERT checkpoint as bench/make-checkpoint.mjs, but with real torch.save.

The geometry, key order and cfg come from the JS generator's plan (`node bench/make-checkpoint.mjs --plan`), so both
generators describe one model; only the values differ (torch's RNG here). Holds the whole model in memory while it
saves (as fairseq does), so use it for base and large; xlarge is left to the streaming JS generator.

Usage: /work/venv/bin/python bench/make_checkpoint.py --size base --out /tmp/base.pt [--seed 1]
"""
import argparse
import collections
import json
import pathlib
import subprocess
import time

import torch

HERE = pathlib.Path(__file__).resolve().parent


def tagged(value):
    """Undo the JS plan's tags: {"$float": x} -> float, {"$tuple": [...]} -> tuple."""
    if isinstance(value, dict):
        if set(value) == {"$float"}:
            return float(value["$float"])
        if set(value) == {"$tuple"}:
            return tuple(tagged(v) for v in value["$tuple"])
        return {k: tagged(v) for k, v in value.items()}
    if isinstance(value, list):
        return [tagged(v) for v in value]
    return value


def build(plan, seed):
    gen = torch.Generator().manual_seed(seed)
    state = collections.OrderedDict()
    for t in plan["tensors"]:
        lo, hi = t["range"]
        state[t["key"]] = torch.empty(t["shape"], dtype=torch.float32).uniform_(lo, hi, generator=gen)
    state._metadata = collections.OrderedDict([("", {"version": 1})])
    return {
        "args": None,
        "cfg": tagged(plan["cfg"]),
        "model": state,
        "criterion": None,
        "optimizer_history": [{"criterion_name": "HubertCriterion", "optimizer_name": "FairseqAdam",
                               "lr_scheduler_state": {"best": None}, "num_updates": 400000}],
        "task_state": {},
        "extra_state": {"metrics": {}, "previous_training_time": 123456.7,
                        "train_iterator": {"epoch": 200, "iterations_in_epoch": 0, "shuffle": True}},
        "last_optimizer_state": None,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="base", choices=["base", "large", "xlarge"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    plan = json.loads(subprocess.run(["node", str(HERE / "make-checkpoint.mjs"), "--size", args.size, "--seed",
                                      str(args.seed), "--plan"], check=True, capture_output=True, text=True).stdout)
    t0 = time.time()
    ckpt = build(plan, args.seed)
    torch.save(ckpt, args.out)
    size = pathlib.Path(args.out).stat().st_size
    print(f"{args.out}: {args.size}, {size / 1e9:.3f} GB in {time.time() - t0:.2f} s (torch.save)", flush=True)


if __name__ == "__main__":
    main()
