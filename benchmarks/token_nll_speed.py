"""Seconds of the value search's loss (forward and backward) on bfloat16 logits of SmolLM2's
vocabulary: ``cross_entropy`` of a float32 copy of the logits (the search before
``prefedit.editing.loss``) against ``token_nll``, which converts a few rows at a time.

Row counts: 48 target positions (a late step: 16 entries x 3 target tokens) and 300 (a full
step of 50 entries x 6); up to 16 rows, ``token_nll`` is the float32 ``cross_entropy`` itself.
Both compute the same NLL to float32 rounding; the script prints the largest difference.
Run: ``.venv/bin/python benchmarks/token_nll_speed.py``; prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from prefedit.editing.loss import token_nll


def _seconds(fn, reps: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", type=int, default=49152, help="vocabulary size (SmolLM2: 49152)")
    ap.add_argument("--rows", default="48,300", help="comma-separated numbers of target positions")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    out: dict[str, dict[str, float]] = {}
    for rows in (int(r) for r in args.rows.split(",")):
        labels = torch.randint(0, args.vocab, (rows,), generator=gen)
        logits = 3 * torch.randn(rows, args.vocab, generator=gen)
        logits[torch.arange(rows), labels] += 12  # near-certain targets, as late in a search
        x = logits.bfloat16().requires_grad_()

        def copy() -> None:
            torch.nn.functional.cross_entropy(x.float(), labels, reduction="none").sum().backward()

        def blocks() -> None:
            token_nll(x, labels).sum().backward()

        with torch.no_grad():
            diff = float((token_nll(x, labels) - torch.nn.functional.cross_entropy(x.float(), labels, reduction="none")).abs().max())
        a, b = _seconds(copy, args.reps), _seconds(blocks, args.reps)
        out[str(rows)] = {"float32_copy_ms": round(1000 * a, 2), "token_nll_ms": round(1000 * b, 2), "speedup": round(a / b, 2), "max_abs_diff": diff}
    print(json.dumps({"vocab": args.vocab, "torch_threads": args.threads, "rows": out}))


if __name__ == "__main__":
    main()
