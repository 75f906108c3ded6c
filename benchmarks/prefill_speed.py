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
from unittest import mock

import prefedit.editing.prefill as prefill
from _upqa import add_item_options, load_items, time_alternating
from prefedit.personalize import method_spec, preference_delta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_item_options(ap, n=6)
    args = ap.parse_args()
    lm, items = load_items(args)
    spec = method_spec("prefedit")
    preference_delta(lm, items[0].preference, spec=spec)  # warm-up: first-call costs fall on neither

    def plain(it):
        with mock.patch.object(prefill, "MIN_SHARED", 10**9):
            return preference_delta(lm, it.preference, spec=spec).patches[0]

    per, patches = time_alternating(items, {"plain": plain, "shared": lambda it: preference_delta(lm, it.preference, spec=spec).patches[0]})
    diff = {field: max(float((getattr(p["plain"], field) - getattr(p["shared"], field)).abs().max() / getattr(p["plain"], field).abs().max())
                       for p in patches)
            for field in ("keys", "values")}
    print(json.dumps({"items": len(items), "seconds_per_preference": per, "speedup": round(per["plain"] / per["shared"], 2),
                      "max_relative_difference": {k: float(f"{v:.2g}") for k, v in diff.items()}, "torch_threads": args.threads}))


if __name__ == "__main__":
    main()
