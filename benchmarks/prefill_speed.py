"""Seconds per `prefedit` edit with the shared-prefix first forward of the value training
(``prefedit.editing.prefill``) against one plain batched forward, and how far the resulting
codebooks differ.

For the first N items of a UPQA file (interleaved by attribute type, as ``prefedit bench
--limit N`` picks them), each preference is edited with the current ``prefedit`` default twice,
once with every row in one padded forward (no prefix shared) and once as shipped, alternating
per item so that load affects both alike. Prints one JSON line: seconds per preference of each,
their ratio, and the largest relative difference of the codebook keys and values (the keys are
the same activations up to float rounding; the values are optimised from them, so rounding can
move the step at which an entry stops).

Run: ``.venv/bin/python benchmarks/prefill_speed.py --n 6``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from unittest import mock

import torch

import prefedit.editing.prefill as prefill
from prefedit.bench.tasks.data import load_tasks
from prefedit.models import load_model
from prefedit.personalize import method_spec, preference_delta

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "upqa" / "balanced_subset.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=6, help="items (default 6)")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model()
    items = load_tasks([args.data], limit=args.n, per_user=False).items
    spec = method_spec("prefedit")
    preference_delta(lm, items[0].preference, spec=spec)  # warm-up: first-call costs fall on neither
    total = {"plain": 0.0, "shared": 0.0}
    diff = {"keys": 0.0, "values": 0.0}
    for it in items:
        patches = {}
        for name in total:
            start = time.perf_counter()
            if name == "plain":
                with mock.patch.object(prefill, "MIN_SHARED", 10**9):
                    delta = preference_delta(lm, it.preference, spec=spec)
            else:
                delta = preference_delta(lm, it.preference, spec=spec)
            total[name] += time.perf_counter() - start
            patches[name] = delta.patches[0]
        for field in diff:
            a, b = getattr(patches["plain"], field), getattr(patches["shared"], field)
            diff[field] = max(diff[field], float((a - b).abs().max() / a.abs().max()))
    per = {k: round(v / len(items), 2) for k, v in total.items()}
    print(json.dumps({"items": len(items), "seconds_per_preference": per, "speedup": round(per["plain"] / per["shared"], 2),
                      "max_relative_difference": {k: float(f"{v:.2g}") for k, v in diff.items()}, "torch_threads": args.threads}))


if __name__ == "__main__":
    main()
