"""Whether one method answered identically in two bench runs: the share of its (item, query type,
turns) rows whose answer text is the same. Used to check that a change of the default left the
single-turn runs as they were.

Run: ``.venv/bin/python benchmarks/compare_answers.py runs/accept-chat-100 runs/accept-chat-100-v2 [--method prefedit]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def answers(run: Path, method: str) -> dict[tuple[str, str, int], str]:
    out = {}
    with open(run / "results.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["method"] == method:
                out[(r["item"], r["query_type"], r["turns"])] = r["answer"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--method", default="prefedit")
    args = ap.parse_args()
    a, b = answers(args.a, args.method), answers(args.b, args.method)
    common = sorted(set(a) & set(b))
    same = sum(a[k] == b[k] for k in common)
    print(f"{args.method}: {len(a)} rows in {args.a}, {len(b)} in {args.b}, {len(common)} in both, {same} identical answers")


if __name__ == "__main__":
    main()
