"""Where the answer-start keys of late questions and of unrelated prompts fall relative to a
prefedit codebook, by token position: data for a radius that grows with the position.

For the first N UPQA items, the ``prefedit`` plan's entries (keys at the answer-start token, radii
as the codebook builds them with ``split_labels=stripped``), then for the item's explicit and
implicit questions after 0/2/4/6/10 distractor turns the ratio (distance to an entry) / (its
radius), minimised over entries, at the answer-start token, and for the 20 unrelated probes after
0/2/4/10 turns that ratio at every token. A rule "fire when ratio < g(position)" reaches a
question when its answer-start ratio is below g there, and disturbs a probe when any of its
tokens is. Prints reach and disturbed shares for g(p) = max(1, (p / p0) ** beta).

Run: ``.venv/bin/python benchmarks/key_position.py [--n 8] [--radius 0.5] [--guard]`` (keys only,
no generation).
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
from prefedit.editing.grace.compute_codebook import cap_at_guards, split_labels, split_overlaps
from prefedit.editing.hooks import module_inputs
from prefedit.models import chat_prompt, load_model
from prefedit.personalize import GUARD_QUESTIONS, method_spec, plan_for

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
Q_TURNS = (0, 2, 4, 6, 10)
P_TURNS = (0, 2, 4, 10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--radius", type=float, default=0.5)
    ap.add_argument("--guard", action="store_true", help="cap radii at the nearest of the guard questions")
    ap.add_argument("--p0", default="64,128,256")
    ap.add_argument("--beta", default="0,0.05,0.1,0.15,0.2")
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
    probe_h = {t: [inputs(chat_prompt(tok, p, history=conversation(Context(), pairs, t))) for p in unrelated_prompts()] for t in P_TURNS}
    guards = torch.stack([inputs(chat_prompt(tok, q))[-1] for q in anchor_questions(GUARD_QUESTIONS)]) if args.guard else torch.empty(0)
    questions: list[tuple[str, int, int, float]] = []  # kind, turns, position, ratio
    probes: list[tuple[int, torch.Tensor]] = []  # turns, ratio per token (positions = index)
    for it in load_tasks([DATA / "upqa" / "balanced_subset.json"], limit=args.n, per_user=False).items:
        plan = plan_for(lm, it.edit_view(), spec)
        keys = torch.stack([inputs(r.prompt)[-1] for r in plan.requests])
        radii = split_overlaps(keys, args.radius * keys.norm(dim=1), split_labels(plan.requests, "stripped"))
        radii = cap_at_guards(keys, radii, guards)

        def ratio(h: torch.Tensor) -> torch.Tensor:
            return (torch.cdist(h, keys) / radii).min(dim=1).values

        for t in Q_TURNS:
            for k in ("explicit", "implicit"):
                h = inputs(chat_prompt(tok, it.questions[k], history=conversation(Context(), pairs, t)))
                questions.append((k, t, h.shape[0] - 1, float(ratio(h[-1:])[0])))
        for t in P_TURNS:
            probes += [(t, ratio(h)) for h in probe_h[t]]

    def g(pos: torch.Tensor, p0: float, beta: float) -> torch.Tensor:
        return torch.clamp(pos / p0, min=1.0) ** beta

    print(f"{args.n} items, radius {args.radius}, stripped labels, guard {'yes' if args.guard else 'no'}")
    def median_position(t: int) -> int:
        pos = sorted(p for _, tt, p, _ in questions if tt == t)
        return pos[len(pos) // 2]

    print("median answer-start position: " + ", ".join(f"{median_position(t)} after {t} turns" for t in Q_TURNS))
    head = " / ".join(str(t) for t in Q_TURNS)
    print(f"| p0 | beta | explicit @{head} | implicit @{head} | probes disturbed @{' / '.join(str(t) for t in P_TURNS)} |")
    print("|---|---|---|---|---|")
    for p0 in (float(x) for x in args.p0.split(",")):
        for beta in (float(x) for x in args.beta.split(",")):
            cols = []
            for k in ("explicit", "implicit"):
                cols.append(" / ".join(
                    f"{100 * sum(r < float(g(torch.tensor(float(p)), p0, beta)) for kk, tt, p, r in questions if kk == k and tt == t) / args.n:.0f}"
                    for t in Q_TURNS))
            dist = []
            for t in P_TURNS:
                rs = [r for tt, r in probes if tt == t]
                hit = sum(bool((r < g(torch.arange(len(r), dtype=torch.float32), p0, beta)).any()) for r in rs)
                dist.append(f"{100 * hit / len(rs):.0f}")
            print(f"| {p0:.0f} | {beta} | {cols[0]} | {cols[1]} | {' / '.join(dist)} |")


if __name__ == "__main__":
    main()
