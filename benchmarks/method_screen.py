"""Screen personalization-method variants on SmolLM2 (CPU), quicker than a full bench run.

For the first N items of a UPQA file (interleaved by attribute type, as ``prefedit bench
--limit N`` picks them), each variant edits the item's preference from the statement alone,
asks its four questions and the 20 unrelated probes (``bench.probes.unrelated_prompts``)
(same output as the unedited model or not), judge ``match`` (the target, its aliases or the
cluster targets given in the data). ``--protocol chat`` (default): chat template, fixed system
prompt, greedy, 48 tokens for questions and 32 for probes; ``--protocol paper``: the bench's
paper prompts and budgets (raw questions, answers as long as the target, +8 tokens); chat-style
variants are keyed under the system prompt the protocol asks its chat questions with, as
``prefedit bench`` keys them (task version 3). Other-users
locality, retention and memory: use ``prefedit bench``.

``--turns 2,4`` (chat protocol) also asks each item's explicit and implicit questions after that
many distractor turns (``../shared/data/distractors/inter_turns.json``, as ``prefedit bench
--turns`` builds them), and the unrelated probes after the largest number of turns (compared
with the unedited model's answers there): ``explicit@4`` etc. in ``correct``,
``unrelated_agreement_late`` for the probes.

Run: ``.venv/bin/python benchmarks/method_screen.py --n 12 [--protocol paper] [--variants JSON]``,
JSON mapping a name to ``MethodSpec`` fields (``{"editor": "grace", "builders": ["templates"],
...}``); the default compares ``prefedit`` with ROME on the explicit question. One JSON line
per variant.
"""

from __future__ import annotations

import argparse
import json
import time

from _upqa import add_item_options, load_items
from prefedit.bench.backends import HFBackend
from prefedit.bench.judges.match import contains_target
from prefedit.bench.probes import unrelated_prompts
from prefedit.bench.tasks.distractors import default_distractors_path, load_distractor_pairs
from prefedit.bench.tasks.prompts import Context, chat_system_prompt, render_probe, render_query
from prefedit.deltas import applied
from prefedit.personalize import MethodSpec, method_spec, preference_delta, with_system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_item_options(ap, n=12)
    ap.add_argument("--variants", default=None, help="JSON {name: MethodSpec fields}; default prefedit and rome")
    ap.add_argument("--protocol", choices=("chat", "paper"), default="chat")
    ap.add_argument("--turns", default="", help="distractor turn counts for late explicit/implicit questions, e.g. 2,4")
    args = ap.parse_args()
    turns = [int(t) for t in args.turns.split(",") if t.strip()]
    distractors = default_distractors_path([args.data]) if turns else None
    if turns and distractors is None:
        ap.error(f"--turns needs distractors/inter_turns.json beside the directory of {args.data}")
    pairs = load_distractor_pairs(distractors) if distractors else []
    lm, items = load_items(args)
    backend = HFBackend(lm)
    texts = unrelated_prompts()
    probes = [render_probe(backend, args.protocol, Context(), q) for q in texts]
    budgets = [32 if args.protocol == "chat" else b for _, b in probes]
    before = backend.generate([p for p, _ in probes], budgets)
    late_probes = [render_query(backend, args.protocol, Context(), question=q, query_type="explicit", turns=max(turns), pairs=pairs, target="")[0]
                   for q in texts] if turns else []
    late_before = backend.generate(late_probes, [32] * len(late_probes)) if turns else []
    variants = {k: MethodSpec(**v) for k, v in json.loads(args.variants).items()} if args.variants else {"prefedit": method_spec("prefedit"), "rome": method_spec("rome")}
    for name, spec in variants.items():
        if spec.style == "chat":  # keyed under the system prompt the protocol asks chat questions with, as the bench does
            spec = with_system(spec, chat_system_prompt(args.protocol))
        hits: dict[str, int] = {}
        counts: dict[str, int] = {}
        same, late_same, seconds = [], [], []
        for it in items:
            start = time.perf_counter()
            delta = preference_delta(lm, it.preference, spec=spec)
            seconds.append(time.perf_counter() - start)
            kinds = list(it.questions)
            asks = [(k, k, 0) for k in kinds] + [(f"{k}@{t}", k, t) for t in turns for k in ("explicit", "implicit") if k in it.questions]
            kinds = [name for name, _, _ in asks]
            with applied(lm, delta):
                asked = [render_query(backend, args.protocol, Context(), question=it.questions[k], query_type=k, turns=t, pairs=pairs,
                                      target=it.preference.target) for _, k, t in asks]
                answers = backend.generate([p for p, _ in asked], [b for _, b in asked])
                after = backend.generate([p for p, _ in probes], budgets)
                if turns:
                    late_same.append(sum(a == b for a, b in zip(late_before, backend.generate(late_probes, [32] * len(late_probes)), strict=True)))
            for kind, answer in zip(kinds, answers, strict=True):
                hits[kind] = hits.get(kind, 0) + contains_target(answer, it.accepted)
                counts[kind] = counts.get(kind, 0) + 1
            same.append(sum(a == b for a, b in zip(before, after, strict=True)))
        print(json.dumps({"variant": name, "items": len(items), "correct": {k: f"{hits[k]}/{counts[k]}" for k in counts},
                          "unrelated_agreement": round(sum(same) / (20 * len(same)), 3),
                          **({"unrelated_agreement_late": round(sum(late_same) / (20 * len(late_same)), 3)} if turns else {}),
                          "seconds_per_preference": round(sum(seconds) / len(seconds), 2), "protocol": args.protocol, "torch_threads": args.threads}), flush=True)


if __name__ == "__main__":
    main()
