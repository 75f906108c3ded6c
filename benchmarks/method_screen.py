"""Screen personalization-method variants on SmolLM2 (CPU), quicker than a full bench run.

For the first N items of a UPQA file (interleaved by attribute type, as ``prefedit bench
--limit N`` picks them), each variant edits the item's preference from the statement alone,
asks its four questions (chat template, fixed system prompt, greedy, 48 tokens, judge
``match``: the target, its aliases or the cluster targets given in the data) and the 20
unrelated probes of ``prefedit/data/probes_unrelated.json`` (greedy, 32 tokens: same output as
the unedited model or not). Other-users locality, retention and memory: use ``prefedit bench``.

Run: ``.venv/bin/python benchmarks/method_screen.py --n 12 [--variants JSON]``, JSON mapping a
name to ``MethodSpec`` fields (``{"editor": "grace", "builders": ["templates"], ...}``); the
default compares ``prefedit`` with ROME on the explicit question. One JSON line per variant.
"""

from __future__ import annotations

import argparse
import json
import time
from importlib import resources
from pathlib import Path

import torch

from prefedit.bench.judges.match import contains_target
from prefedit.bench.tasks.data import load_tasks
from prefedit.deltas import applied
from prefedit.models import chat_prompt, generate, load_model
from prefedit.personalize import MethodSpec, method_spec, preference_delta

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "upqa" / "balanced_subset.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=12, help="items (default 12)")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--variants", default=None, help="JSON {name: MethodSpec fields}; default prefedit and rome")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model()
    tok = lm.tokenizer
    items = load_tasks([args.data], limit=args.n, per_user=False).items
    probes = [chat_prompt(tok, q) for q in json.loads(resources.files("prefedit.data").joinpath("probes_unrelated.json").read_text())["prompts"]]
    before = generate(lm, probes, max_new_tokens=32)
    variants = {k: MethodSpec(**v) for k, v in json.loads(args.variants).items()} if args.variants else {"prefedit": method_spec("prefedit"), "rome": method_spec("rome")}
    for name, spec in variants.items():
        hits: dict[str, int] = {}
        counts: dict[str, int] = {}
        same, seconds = [], []
        for it in items:
            start = time.perf_counter()
            delta = preference_delta(lm, it.preference, spec=spec)
            seconds.append(time.perf_counter() - start)
            kinds = list(it.questions)
            with applied(lm, delta):
                answers = generate(lm, [chat_prompt(tok, it.questions[k]) for k in kinds], max_new_tokens=48)
                after = generate(lm, probes, max_new_tokens=32)
            for kind, answer in zip(kinds, answers, strict=True):
                hits[kind] = hits.get(kind, 0) + contains_target(answer, it.accepted)
                counts[kind] = counts.get(kind, 0) + 1
            same.append(sum(a == b for a, b in zip(before, after, strict=True)))
        print(json.dumps({"variant": name, "items": len(items), "correct": {k: f"{hits[k]}/{counts[k]}" for k in counts},
                          "unrelated_agreement": round(sum(same) / (20 * len(same)), 3),
                          "seconds_per_preference": round(sum(seconds) / len(seconds), 2), "torch_threads": args.threads}), flush=True)


if __name__ == "__main__":
    main()
