"""Seconds per `prefedit` edit against earlier ways of training its values.

For the first N items of a UPQA file (interleaved by attribute type, as ``prefedit bench
--limit N`` picks them), each preference is edited with the current ``prefedit`` default and
with the same plan trained another way, alternating per item so that load affects both alike:

- ``--against float32`` (default): the value search in the model's own float32 with the
  warm-start picks at the base learning rate (the default before the bfloat16 search);
- ``--against cold``: float32, all entries together until the slowest reaches 0.1 target NLL,
  no warm start (the default before the warm start).

The first item is edited once untimed by both (model copy, guard keys and caches built).
Run: ``.venv/bin/python benchmarks/prefedit_value_speed.py --n 6``; prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from prefedit.bench.tasks.data import load_tasks
from prefedit.models import load_model
from prefedit.personalize import method_spec, preference_delta

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "upqa" / "balanced_subset.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=6, help="items (default 6)")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--against", choices=("float32", "cold"), default="float32", help="the training to compare with (default float32)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model()
    items = load_tasks([args.data], limit=args.n + 1, per_user=False).items
    new = method_spec("prefedit")
    f32 = {**new.editor_overrides, "compute_dtype": "model", "warm_lr": 0.0}
    if args.against == "cold":
        f32 |= {"early_stop_nll": 0.1, "warm_start": 0, "per_request_stop": False}
    old = replace(new, editor_overrides=f32)
    for spec in (old, new):
        preference_delta(lm, items[0].preference, spec=spec)
    items = items[1:]
    total = {"previous": 0.0, "prefedit": 0.0}
    for it in items:
        for name, spec in (("previous", old), ("prefedit", new)):
            start = time.perf_counter()
            preference_delta(lm, it.preference, spec=spec)
            total[name] += time.perf_counter() - start
    per = {k: round(v / len(items), 2) for k, v in total.items()}
    print(json.dumps({"items": len(items), "seconds_per_preference": per, "speedup": round(per["previous"] / per["prefedit"], 2),
                      "against": args.against, "torch_threads": args.threads}))


if __name__ == "__main__":
    main()
