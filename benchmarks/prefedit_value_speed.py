"""Seconds per `prefedit` edit against earlier ways of training its values.

For the first N items of a UPQA file (interleaved by attribute type, as ``prefedit bench
--limit N`` picks them), each preference is edited with the current ``prefedit`` default and
with the same plan trained another way, alternating per item so that load affects both alike:

- ``--against float32`` (default): the value search in the model's own float32 with the
  warm-start picks at the base learning rate (the default before the bfloat16 search);
- ``--against cold``: float32, all entries together until the slowest reaches 0.1 target NLL,
  no warm start (the default before the warm start);
- ``--against raw3``: the same training on the plan with 3 explicit/paraphrase questions copied
  raw instead of all of them (the default before the raw copies of every question);
- ``--against warm3``: the warm-start picks at 3x the base learning rate instead of 4x (the
  default before).

``--protocol paper`` keys the plans as ``prefedit bench --protocol paper`` does (under its
system message, ``with_system``).

The first item is edited once untimed by both (model copy, guard keys and caches built).
Run: ``.venv/bin/python benchmarks/prefedit_value_speed.py --n 6``; prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

from _upqa import add_item_options, load_items, time_alternating
from prefedit.bench.tasks.prompts import chat_system_prompt
from prefedit.personalize import method_spec, preference_delta, with_system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_item_options(ap, n=6)
    ap.add_argument("--against", choices=("float32", "cold", "raw3", "warm3"), default="float32", help="what to compare with (default float32)")
    ap.add_argument("--protocol", choices=("chat", "paper"), default="chat", help="key the plans as the bench does under this protocol")
    args = ap.parse_args()
    lm, items = load_items(args, extra=1)
    new = with_system(method_spec("prefedit"), chat_system_prompt(args.protocol))
    if args.against == "raw3":
        old = replace(new, raw=3)
    elif args.against == "warm3":
        old = replace(new, editor_overrides={**new.editor_overrides, "warm_lr": 3.0})
    else:
        f32 = {**new.editor_overrides, "compute_dtype": "model", "warm_lr": 0.0}
        if args.against == "cold":
            f32 |= {"early_stop_nll": 0.1, "warm_start": 0, "per_request_stop": False}
        old = replace(new, editor_overrides=f32)
    for spec in (old, new):
        preference_delta(lm, items[0].preference, spec=spec)
    items = items[1:]
    per, _ = time_alternating(items, {name: (lambda it, spec=spec: preference_delta(lm, it.preference, spec=spec))
                                      for name, spec in (("previous", old), ("prefedit", new))})
    print(json.dumps({"items": len(items), "seconds_per_preference": per, "speedup": round(per["previous"] / per["prefedit"], 2),
                      "against": args.against, "protocol": args.protocol, "torch_threads": args.threads}))


if __name__ == "__main__":
    main()
