"""Seconds per `prefedit` edit with the warm-started value training against the previous one.

For the first N items of a UPQA file (interleaved by attribute type, as ``prefedit bench
--limit N`` picks them), each preference is edited with the current ``prefedit`` default and
with the same plan trained the previous way (all entries together until the slowest reaches
0.1 target NLL, no warm start), alternating per item so that load affects both alike.

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
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model()
    items = load_tasks([args.data], limit=args.n, per_user=False).items
    new = method_spec("prefedit")
    old = replace(new, editor_overrides={**new.editor_overrides, "early_stop_nll": 0.1, "warm_start": 0, "per_request_stop": False})
    total = {"previous": 0.0, "prefedit": 0.0}
    for it in items:
        for name, spec in (("previous", old), ("prefedit", new)):
            start = time.perf_counter()
            preference_delta(lm, it.preference, spec=spec)
            total[name] += time.perf_counter() - start
    per = {k: round(v / len(items), 2) for k, v in total.items()}
    print(json.dumps({"items": len(items), "seconds_per_preference": per, "speedup": round(per["previous"] / per["prefedit"], 2),
                      "torch_threads": args.threads}))


if __name__ == "__main__":
    main()
