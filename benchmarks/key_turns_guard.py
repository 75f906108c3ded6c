"""Multi-turn reach of a prefedit codebook as it is built (GRACE split rule applied), for wider
radii with and without guard prompts: for the first N UPQA items, the share of explicit and
implicit questions whose answer-start key lies within an entry's radius after 0 / 2 / 4 / 10
distractor turns (``../shared/data/distractors/inter_turns.json``, as ``prefedit bench --turns``
builds them), and the share of the 20 unrelated locality prompts within reach at turn 0 and after
10 turns (at their answer-start token, "last", and at any token, "any").

``--labels exact`` splits entries whose targets differ at all, as the codebook does today (a raw
copy answers " Lisbon", a chat entry "Lisbon", so their radii are cut to half their distance);
``--labels stripped`` splits only entries whose targets differ after stripping spaces. The guard
caps each radius at the distance to the nearest of 128 chat-corpus questions (benchmarks/key_guard.py).
Keys only: no value training, no generation.

Run: ``.venv/bin/python benchmarks/key_turns_guard.py [--n 8] [--radii 0.5,0.6,0.7] [--labels exact|stripped]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from prefedit.bench.probes import unrelated_prompts
from prefedit.bench.tasks.data import load_tasks
from prefedit.bench.tasks.distractors import load_distractor_pairs
from prefedit.bench.tasks.prompts import Context, conversation
from prefedit.editing.anchors import anchor_questions
from prefedit.editing.grace.compute_codebook import split_overlaps
from prefedit.editing.hooks import module_inputs
from prefedit.models import chat_prompt, load_model
from prefedit.personalize import GUARD_QUESTIONS, method_spec, plan_for

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TURNS = (0, 2, 4, 10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--radii", default="0.5,0.6,0.7")
    ap.add_argument("--labels", choices=("exact", "stripped"), default="exact")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model()
    tok = lm.tokenizer
    spec = method_spec("prefedit")
    module = lm.arch.module("mlp_out", lm.arch.relative_layer(spec.editor_overrides["layer"]))

    def inputs(prompt: str) -> torch.Tensor:
        return module_inputs(lm, module, prompt)

    pairs = load_distractor_pairs(DATA / "distractors" / "inter_turns.json")
    probes = unrelated_prompts()
    guards = torch.stack([inputs(chat_prompt(tok, q))[-1] for q in anchor_questions(GUARD_QUESTIONS)])
    probe_h = {t: [inputs(chat_prompt(tok, p, history=conversation(Context(), pairs, t))) for p in probes] for t in (0, 10)}
    radii_list = [float(r) for r in args.radii.split(",")]
    hits: dict[tuple[float, bool, str, int], list[bool]] = {}
    for it in load_tasks([DATA / "upqa" / "balanced_subset.json"], limit=args.n, per_user=False).items:
        plan = plan_for(lm, it.edit_view(), spec)
        keys = torch.stack([inputs(r.prompt)[-1] for r in plan.requests])
        labels = [r.target.strip() if args.labels == "stripped" else r.target for r in plan.requests]
        asked = {(t, k): inputs(chat_prompt(tok, it.questions[k], history=conversation(Context(), pairs, t)))[-1:]
                 for t in TURNS for k in ("explicit", "implicit")}
        nearest_guard = torch.cdist(keys, guards).min(1).values
        for radius in radii_list:
            split = split_overlaps(keys, radius * keys.norm(dim=1), labels)
            for guarded in (False, True):
                r = torch.minimum(split, nearest_guard) if guarded else split
                for (t, k), h in asked.items():
                    hits.setdefault((radius, guarded, k, t), []).append(bool((torch.cdist(h, keys)[0] < r).any()))
                for t in (0, 10):
                    for ph in probe_h[t]:
                        inside = torch.cdist(ph, keys) < r
                        hits.setdefault((radius, guarded, "unrelated, last", t), []).append(bool(inside[-1].any()))
                        hits.setdefault((radius, guarded, "unrelated, any", t), []).append(bool(inside.any()))

    def pct(key: tuple[float, bool, str, int]) -> str:
        return f"{100 * sum(hits[key]) / len(hits[key]):.0f}"

    print(f"{args.n} items, labels {args.labels}; % within reach: explicit and implicit after 0/2/4/10 turns, unrelated at 0/10 turns")
    print("| radius | guard | explicit | implicit | unrelated, last | unrelated, any |\n|---|---|---|---|---|---|")
    for radius in radii_list:
        for guarded in (False, True):
            cols = [" / ".join(pct((radius, guarded, k, t)) for t in TURNS) for k in ("explicit", "implicit")]
            cols += [" / ".join(pct((radius, guarded, k, t)) for t in (0, 10)) for k in ("unrelated, last", "unrelated, any")]
            print(f"| {radius} | {'yes' if guarded else 'no'} | " + " | ".join(cols) + " |")


if __name__ == "__main__":
    main()
