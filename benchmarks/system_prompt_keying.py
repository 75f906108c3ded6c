"""Edits keyed under the system prompt a deployment answers with (``--system-prompt``) against
edits keyed under prefedit's default one, asked under the deployment's prompt: explicit and
implicit questions of UPQA items, and the 20 unrelated locality prompts (greedy output kept).
``with_system`` adds guard prompts (radii capped at generic corpus questions); the middle row
turns them off.

Run: ``.venv/bin/python benchmarks/system_prompt_keying.py [--limit 12] [--system TEXT]``
(from the repository root; reads ../shared/data).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from prefedit.bench.judges.match import contains_target
from prefedit.bench.probes import unrelated_prompts
from prefedit.bench.tasks.data import load_tasks
from prefedit.deltas import applied
from prefedit.models import chat_prompt, generate, load_model
from prefedit.personalize import method_spec, preference_delta, with_system

SYSTEM = "You are Sol, the assistant of a small travel agency. Answer in one or two sentences."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/upqa/balanced_subset.json")
    ap.add_argument("--limit", type=int, default=12)
    ap.add_argument("--system", default=SYSTEM, help="the deployment's system prompt")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model("smollm2-135m-instruct")
    items = load_tasks([args.data], limit=args.limit, per_user=False).items
    unrelated = unrelated_prompts()
    probes = [chat_prompt(lm.tokenizer, q, system=args.system) for q in unrelated]
    base = generate(lm, probes)
    kinds = ("explicit", "implicit")
    deployment = with_system(method_spec("prefedit"), args.system)  # with guard prompts
    specs = {
        "keyed under the default prompt": method_spec("prefedit"),
        "keyed under the deployment prompt, no guard": replace(deployment, guard=0),
        f"keyed under the deployment prompt, {deployment.guard} guard questions": deployment,
    }
    print(f"deployment system prompt: {args.system!r}; {len(items)} items; questions and probes asked under it")
    print("| edits | explicit | implicit | unrelated unchanged | s/pref |\n|---|---|---|---|---|")
    for name, spec in specs.items():
        hits = dict.fromkeys(kinds, 0)
        kept, seconds = 0, 0.0
        for it in items:
            start = time.perf_counter()
            delta = preference_delta(lm, it.edit_view(), spec=spec)
            seconds += time.perf_counter() - start
            questions = [chat_prompt(lm.tokenizer, it.questions[k], system=args.system) for k in kinds]
            with applied(lm, delta):
                answers = generate(lm, questions + probes)
            for k, a in zip(kinds, answers, strict=False):
                hits[k] += contains_target(a, it.accepted)
            kept += sum(a == b for a, b in zip(answers[len(kinds) :], base, strict=True))
        n = len(items)
        print(f"| {name} | {hits['explicit']}/{n} | {hits['implicit']}/{n} | {kept / (n * len(probes)):.3f} | {seconds / n:.1f} |")


if __name__ == "__main__":
    main()
