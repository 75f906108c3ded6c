"""Which raw questions (no chat template, as the paper protocol asks its explicit, paraphrased and
implicit questions) fall inside the radius of a ``prefedit`` plan's raw copies, and how many of
the 20 unrelated probes asked raw do: keys only (no value training, no generation).

For ``--limit`` UPQA items, the plan keyed as ``prefedit bench --protocol paper`` keys it (under
the paper protocol's system message, ``with_system``), with ``--raw`` questions copied raw (the
first N explicit/paraphrase questions plus every implicit and recommendation one). Radii as the
codebook builds them for raw entries: half the key's norm, capped at the nearest raw guard key
(the corpus questions asked raw), and, with ``--widen``, widened up to that factor short of
``--widen-margin`` x the nearest guard distance (``cap_at_guards``). The unrelated column counts
(item, probe) pairs with the probe's key inside some entry of the item's plan.

Run: ``.venv/bin/python benchmarks/key_guard_raw.py [--limit 30] [--raw 3,16] [--widen 1.4]``
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch

from prefedit.bench.probes import unrelated_prompts
from prefedit.bench.tasks.data import load_tasks
from prefedit.bench.tasks.prompts import PAPER_SYSTEM_PROMPT
from prefedit.editing.anchors import anchor_questions
from prefedit.editing.grace.compute_codebook import cap_at_guards
from prefedit.editing.values import prompt_keys
from prefedit.models import load_model
from prefedit.models.chat import raw_prompt
from prefedit.personalize import GUARD_QUESTIONS, method_spec, plan_for, with_system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/upqa/balanced_subset.json")
    ap.add_argument("--limit", type=int, default=30)
    ap.add_argument("--raw", default="3,16", help="comma-separated numbers of explicit/paraphrase questions copied raw")
    ap.add_argument("--widen", default="1.4", help="comma-separated widening factors (1 = plain radii)")
    ap.add_argument("--widen-margin", type=float, default=0.9)
    args = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_model()
    spec = with_system(method_spec("prefedit"), PAPER_SYSTEM_PROMPT)
    o = spec.editor_overrides
    module = lm.arch.module("mlp_out", lm.arch.relative_layer(o["layer"]))
    items = load_tasks([args.data], limit=args.limit, per_user=False).items

    def keys(prompts: list[str]) -> torch.Tensor:
        return prompt_keys(lm, module, prompts)

    guards = keys([raw_prompt(lm.tokenizer, q) for q in anchor_questions(GUARD_QUESTIONS)])
    probes = keys([raw_prompt(lm.tokenizer, q) for q in unrelated_prompts()])
    asked = {q: keys([raw_prompt(lm.tokenizer, it.questions[q]) for it in items]) for q in ("explicit", "paraphrased", "implicit")}
    n = len(items)
    print(f"{n} items, {len(guards)} raw guard questions, {len(probes)} unrelated probes; raw questions within some raw entry's radius")
    print("| raw copies | widen | explicit | paraphrased | implicit | unrelated (item, probe) pairs |\n|---|---|---|---|---|---|")
    for n_raw in (int(x) for x in args.raw.split(",")):
        plans = [plan_for(lm, it.edit_view(), replace(spec, raw=n_raw)) for it in items]
        entry_keys = [keys([r.prompt for r in p.requests if r.raw]) for p in plans]
        for w in (float(x) for x in args.widen.split(",")):
            hits = dict.fromkeys(asked, 0)
            pairs = 0
            for i, k in enumerate(entry_keys):
                r = cap_at_guards(k, o["radius"] * k.norm(dim=1), guards, cap=True, widen=w, margin=args.widen_margin)
                for q, qk in asked.items():
                    hits[q] += bool(((k - qk[i]).norm(dim=1) < r).any())
                pairs += int((torch.cdist(probes, k) < r).any(dim=1).sum())
            print(f"| {n_raw} | {w} | {hits['explicit']}/{n} | {hits['paraphrased']}/{n} | {hits['implicit']}/{n} | {pairs}/{n * len(probes)} |")


if __name__ == "__main__":
    main()
