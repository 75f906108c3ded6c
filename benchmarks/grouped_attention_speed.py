"""Seconds per `prefedit` edit with the compute twin's attention as transformers' eager
function against ``prefedit.models.attention.grouped_attention`` (no per-head key/value copies).

For the first N items of a UPQA file (interleaved by attribute type, as ``prefedit bench
--limit N`` picks them), each preference is edited twice, once per attention, alternating
which goes first per item so that load affects both alike. Both compute the same products;
in bfloat16 their sums round differently and each search stops wherever its own path first
meets the target NLL, so the script also prints the median and largest distance between the
two edits' codebook values, relative to the value's norm.

``--protocol paper`` keys the plans as ``prefedit bench --protocol paper`` does. The first item
is edited once untimed (model copy, guard keys and caches built).
Run: ``.venv/bin/python benchmarks/grouped_attention_speed.py --n 9``; prints one JSON line.
"""

from __future__ import annotations

import argparse
import json

import torch

from _upqa import add_item_options, load_items, time_alternating
from prefedit.bench.tasks.prompts import chat_system_prompt
from prefedit.models.attention import register
from prefedit.models.twin import compute_twin
from prefedit.personalize import method_spec, preference_delta, with_system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_item_options(ap, n=9)
    ap.add_argument("--protocol", choices=("chat", "paper"), default="paper", help="key the plans as the bench does under this protocol")
    args = ap.parse_args()
    lm, items = load_items(args, extra=1)
    spec = with_system(method_spec("prefedit"), chat_system_prompt(args.protocol))
    preference_delta(lm, items[0].preference, spec=spec)
    twin = compute_twin(lm, torch.bfloat16)
    if twin is lm:
        raise SystemExit("this machine computes the value search in the model's own dtype: no compute twin to compare")

    def edit(it, attention: str):
        twin.model.set_attn_implementation(attention)
        return preference_delta(lm, it.preference, spec=spec)

    per, results = time_alternating(items[1:], {"eager": lambda it: edit(it, "eager"), "grouped": lambda it: edit(it, register())})
    gaps = []
    for out in results:
        a, b = out["eager"].patches[0].values, out["grouped"].patches[0].values
        gaps.append((a - b).norm(dim=1) / a.norm(dim=1))
    gap = torch.cat(gaps)
    print(json.dumps({"items": len(results), "seconds_per_preference": per, "speedup": round(per["eager"] / per["grouped"], 2),
                      "value_gap_median": round(float(gap.median()), 4), "value_gap_max": round(float(gap.max()), 4), "protocol": args.protocol,
                      "torch_threads": args.threads}))


if __name__ == "__main__":
    main()
