"""Every editor on SmolLM2 (CPU, one dtype for all): time per preference, peak RSS, bytes stored per
preference, and explicit accuracy over all N preferences after a sequential run of N edits.

The N preferences are one user's: the first N UPQA items with distinct explicit questions (the
400-item development set holds 114). The reference's balanced subsets repeat each question for 10
users ("What's my hobby?" x 10 with 10 answers), so editing all of them into one model caps
explicit accuracy at 10% whatever the editor; ``--data`` with ``--no-distinct`` measures that.

Run: ``.venv/bin/python benchmarks/editors_cpu.py [--n 100] [--editors memit,alphaedit,rome]
[--set rome.layer=0.66] [--out benchmarks/results/editors_cpu.jsonl]``.

Each editor runs in its own process, so its peak RSS is its own; one JSON line per editor goes to
stdout and is appended to ``--out``; progress goes to stderr. Protocol of the accuracy figure:
UPQA explicit questions (``--data``, default the 400-item development set), chat
template with the fixed system prompt, greedy, 48 new tokens, judge ``match`` (case-insensitive
containment of the target), edit mode ``sequential`` (every earlier edit stays applied).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from prefedit.config import config_to_dict
from prefedit.deltas import Delta, save_delta
from prefedit.editing import get_editor, run_plans
from prefedit.editing.plan import plan_preference
from prefedit.editing.stats import key_second_moment
from prefedit.models import chat_prompt, generate, load_model
from prefedit.preferences import load_preferences

log = logging.getLogger("editors_cpu")
EDITORS = ("rome", "memit", "alphaedit", "ft-m", "ft-l", "lora", "grace")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "upqa" / "upqa_dev_400.json"
MAX_NEW_TOKENS = 48


def select(prefs: list[Any], n: int, distinct: bool) -> list[Any]:
    """The first ``n`` preferences, skipping repeated explicit questions when ``distinct``."""
    if not distinct:
        return prefs[:n]
    seen: set[str] = set()
    out = []
    for p in prefs:
        q = p.explicit_question.strip().lower()
        if q not in seen:
            seen.add(q)
            out.append(p)
    return out[:n]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def explicit_accuracy(lm: Any, prefs: list[Any]) -> tuple[float, list[str]]:
    answers = generate(lm, [chat_prompt(lm.tokenizer, p.explicit_question) for p in prefs], max_new_tokens=MAX_NEW_TOKENS)
    hits = [p.target.lower() in a.lower() for p, a in zip(prefs, answers, strict=True)]
    return sum(hits) / len(hits), answers


def parse_overrides(items: list[str], editor: str) -> dict[str, Any]:
    """``editor.field=value`` items for this editor, values parsed as JSON when possible."""
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        name, _, field = key.partition(".")
        if name == editor:
            try:
                out[field] = json.loads(value)
            except json.JSONDecodeError:
                out[field] = value
            if isinstance(out[field], list):
                out[field] = tuple(out[field])
    return out


def warm_statistics(lm: Any, config: Any) -> float:
    """Estimate (or load) the key statistics an editor needs, so edits are timed with a warm cache."""
    start = time.perf_counter()
    if hasattr(config, "stats_tokens"):
        layers = config.layer_indices(lm) if hasattr(config, "layer_indices") else [config.layer_index(lm)]
        key_second_moment(lm, layers, corpus=config.corpus, n_tokens=config.stats_tokens)
    return time.perf_counter() - start


def stored_bytes(deltas: list[Delta]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        return sum(save_delta(d, Path(tmp) / f"{i}.safetensors").stat().st_size for i, d in enumerate(deltas))


def worker(args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    lm = load_model(dtype=args.dtype)
    load_rss = rss_mb()
    prefs = select(load_preferences(args.data), args.n, args.distinct)
    plans = [plan_preference(lm.tokenizer, p) for p in prefs]
    editor = get_editor(args.worker)
    config = replace(editor.default_config(lm), **parse_overrides(args.set, args.worker))
    stats_s = warm_statistics(lm, config)
    acc_before, _ = explicit_accuracy(lm, prefs)
    times: list[float] = []
    result: dict[str, Any] = {}
    mark = [time.perf_counter()]

    checkpoints = {int(k) for k in args.checkpoints.split(",") if k}
    at: dict[str, float] = {}

    def on_edit(i: int, _delta: Delta) -> None:
        times.append(time.perf_counter() - mark[0])
        log.info("%s: edit %d/%d in %.1fs", args.worker, i + 1, len(plans), times[-1])
        if i + 1 in checkpoints and i + 1 < len(plans):  # accuracy over the preferences edited so far
            at[str(i + 1)] = explicit_accuracy(lm, prefs[: i + 1])[0]
            log.info("%s: explicit accuracy over the first %d: %.2f", args.worker, i + 1, at[str(i + 1)])
        if i == len(plans) - 1:  # every edit is applied now
            result["acc"], result["answers"] = explicit_accuracy(lm, prefs)
        mark[0] = time.perf_counter()  # evaluation time is not edit time

    deltas = run_plans(lm, editor, plans, config, mode="sequential", on_edit=on_edit)
    return {
        "editor": args.worker,
        "config": config_to_dict(config),
        "mode": "sequential",
        "n": len(plans),
        "dtype": args.dtype,
        "seconds_per_preference_mean": round(sum(times) / len(times), 3),
        "seconds_per_preference_median": round(sorted(times)[len(times) // 2], 3),
        "statistics_seconds": round(stats_s, 2),
        "peak_rss_mb": round(rss_mb(), 1),
        "rss_after_load_mb": round(load_rss, 1),
        "bytes_per_preference": round(stored_bytes(deltas) / len(plans)),
        "explicit_accuracy_before": acc_before,
        "explicit_accuracy_after_all": result["acc"],
        "explicit_accuracy_over_first_k": at,
        "protocol": {"prompt": "chat", "decoding": "greedy", "max_new_tokens": MAX_NEW_TOKENS, "judge": "match", "data": Path(args.data).name,
                     "selection": "distinct explicit questions" if args.distinct else "first n"},
        "answers_sample": result["answers"][:5],
        "torch_threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="preferences edited one after another (default 100)")
    ap.add_argument("--editors", default=",".join(EDITORS), help="comma-separated registry names")
    ap.add_argument("--data", default=str(DATA), help="UPQA JSON (default: the 400-item development set)")
    ap.add_argument("--distinct", action=argparse.BooleanOptionalAction, default=True, help="skip repeated explicit questions (one user)")
    ap.add_argument("--dtype", default="float32", help="model dtype, the same for every editor")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    ap.add_argument("--set", action="append", default=[], help="config override, e.g. rome.layer=0.66 (repeatable)")
    ap.add_argument("--checkpoints", default="10,50", help="also report accuracy over the first k edited, after edit k")
    ap.add_argument("--out", default=None, help="append each editor's JSON line to this file (editors already in it are skipped)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    if args.worker:
        print(json.dumps(worker(args), sort_keys=True))
        return
    done = set()
    if args.out and Path(args.out).exists():  # resume: editors already measured are skipped
        done = {r["editor"] for r in map(json.loads, Path(args.out).read_text().splitlines()) if "error" not in r}
    for name in args.editors.split(","):
        if name in done:
            continue
        cmd = [sys.executable, __file__, "--worker", name, "--n", str(args.n), "--data", args.data, "--dtype", args.dtype, "--threads", str(args.threads)]
        cmd += ["--distinct" if args.distinct else "--no-distinct"]
        cmd += ["--checkpoints", args.checkpoints] + [x for s in args.set for x in ("--set", s)]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
        line = proc.stdout.strip().splitlines()[-1] if proc.returncode == 0 and proc.stdout.strip() else json.dumps({"editor": name, "error": f"exit {proc.returncode}"})
        print(line, flush=True)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            with open(args.out, "a") as f:
                f.write(line + "\n")


if __name__ == "__main__":
    main()
