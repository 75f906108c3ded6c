"""Multi-turn generation with and without shared-prefix prefill (``prefedit.models.generate``):
the explicit and implicit questions of ``--n`` UPQA items after 0/2/4/6/8/10 distractor turns
(chat protocol, 48 new tokens, as ``prefedit bench --turns`` asks them), generated once with
left-padded batches only (``share_min_tokens=0``) and once as shipped; prints both wall times,
their ratio and whether every answer is the same.

Run: ``.venv/bin/python benchmarks/shared_prefix_speed.py [--n 2] [--threads 2]`` (from the
repository root; reads ../shared/data).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from prefedit.bench.backends import HFBackend
from prefedit.bench.tasks.data import load_tasks
from prefedit.bench.tasks.distractors import load_distractor_pairs
from prefedit.bench.tasks.prompts import CHAT_BUDGET, Context, render_query
from prefedit.models import generate, load_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model()
    backend = HFBackend(lm)
    pairs = load_distractor_pairs(DATA / "distractors" / "inter_turns.json")
    items = load_tasks([DATA / "upqa" / "balanced_subset.json"], limit=args.n, per_user=False).items
    prompts = [render_query(backend, "chat", Context(), question=it.questions[q], query_type=q, turns=t, pairs=pairs, target=it.preference.target)[0]
               for it in items for q in ("explicit", "implicit") for t in (0, 2, 4, 6, 8, 10)]
    lengths = [backend.n_tokens(p) for p in prompts]
    print(f"{len(prompts)} prompts of {min(lengths)}-{max(lengths)} tokens, {args.threads} threads")
    start = time.perf_counter()
    plain = generate(lm, prompts, max_new_tokens=CHAT_BUDGET, batch_size=backend.batch_size, share_min_tokens=0)
    mid = time.perf_counter()
    shared = generate(lm, prompts, max_new_tokens=CHAT_BUDGET, batch_size=backend.batch_size)
    end = time.perf_counter()
    same = sum(a == b for a, b in zip(plain, shared, strict=True))
    print(f"left-padded batches: {mid - start:.1f} s; shared prefixes: {end - mid:.1f} s ({(mid - start) / (end - mid):.1f}x); "
          f"identical answers: {same}/{len(prompts)}")


if __name__ == "__main__":
    main()
