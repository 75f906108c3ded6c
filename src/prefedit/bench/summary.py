"""Finishing a run: judge every row, write results.jsonl, summary.json and the report."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from prefedit import __version__
from prefedit.bench.efficiency import efficiency_row
from prefedit.bench.metrics import accuracy_rows, agreement, judge_rows, locality_rows, retention_rows
from prefedit.bench.paper_presets import DEPARTURES
from prefedit.bench.rundir import RunDir, read_jsonl, write_json
from prefedit.bench.schema import SUMMARY_TYPE, row_key
from prefedit.bench.tasks import CHANGELOG, TASK_VERSION
from prefedit.bench.tasks.prompts import CHAT_BUDGET, PAPER_EXTRA_TOKENS, PAPER_SYSTEM_PROMPT
from prefedit.models.chat import DEFAULT_SYSTEM_PROMPT


def _git_hash() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _protocol_info(protocol: str) -> dict[str, Any]:
    if protocol == "chat":
        return {"prompt": "chat template", "system_prompt": DEFAULT_SYSTEM_PROMPT, "budget": f"{CHAT_BUDGET} new tokens", "decoding": "greedy"}
    return {"prompt": "raw (recommendation: chat template with the reference's system message)", "system_prompt": PAPER_SYSTEM_PROMPT,
            "budget": f"target tokens (+{PAPER_EXTRA_TOKENS} for non-explicit types)", "decoding": "greedy"}


def _write_results(path: Path, rows: list[dict[str, Any]]) -> None:
    keys = ("item", "method", "query_type", "turns", "question", "prompt", "answer", "target", "accepted", "budget", "user", "verdicts", "edit_error")
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({k: r.get(k) for k in keys}, sort_keys=True) + "\n")


def finish(prep: Any, run: RunDir, backend: Any, echo: Any) -> dict[str, Any]:
    """Judge, aggregate and write the outputs; return the summary."""
    cfg = prep.cfg
    rows = [r for m in cfg.methods for r in run.rows(m)]
    previous = {row_key(r): r for r in read_jsonl(run.root / "results.jsonl")}
    names = ["match"] + ([cfg.judge] if cfg.judge != "match" else [])
    judges = judge_rows(rows, names, previous)
    _write_results(run.root / "results.jsonl", rows)
    judge_info = {n: judges[n].info() for n in names}
    for n in names[1:]:
        judge_info[n]["agreement_with_match"] = agreement(rows, n, "match")
        echo(f"judge {n}: agreement with match {judge_info[n]['agreement_with_match']}")
    summary = _summary(prep, run, rows, judge_info, backend)
    write_json(run.root / "summary.json", summary)
    from prefedit.bench.report import write_report

    write_report(run.root, summary)
    return summary


def _fingerprint(backend: Any) -> str | None:
    lm = getattr(backend, "lm", None)
    return getattr(lm, "fingerprint", None)


def _summary(prep: Any, run: RunDir, rows: list[dict[str, Any]], judge_info: dict[str, Any], backend: Any) -> dict[str, Any]:
    cfg = prep.cfg
    locality, retention, efficiency, dropped = [], [], [], {}
    base = run.cache("retention")
    for m in prep.methods:
        items = run.records(m.name, "items")
        procs = run.records(m.name, "proc")
        locality += locality_rows(m.name, items)
        if m.edits:
            retention += retention_rows(m.name, run.records(m.name, "retention"), base)
        efficiency.append(efficiency_row(m.name, m.edits, items, procs))
        dropped.update({m.name: p["dropped_overrides"] for p in procs[-1:] if p.get("dropped_overrides")})
    prints = [p.get("fingerprint") for m in prep.methods for p in run.records(m.name, "proc") if p.get("fingerprint")]
    return {
        "type": SUMMARY_TYPE,
        "prefedit_version": __version__,
        "git": _git_hash(),
        "model": cfg.model,
        "fingerprint": _fingerprint(backend) or (prints[-1] if prints else None),
        "dtype": cfg.dtype,
        "protocol": cfg.protocol,
        "protocol_details": _protocol_info(cfg.protocol),
        "judge": cfg.judge,
        "judges": judge_info,
        "mode": cfg.mode,
        "data": list(cfg.data),
        "seed": cfg.seed,
        "task_version": TASK_VERSION,
        "task_changelog": list(CHANGELOG),
        "n_items": len(prep.tasks.items),
        "items_done": {m.name: len({r["item"] for r in rows if r["method"] == m.name}) for m in prep.methods},
        "methods": {m.name: {"kind": m.kind, "description": m.description, **({"departures": DEPARTURES[m.name]} if m.name in DEPARTURES else {})}
                    for m in prep.methods},
        "dropped_overrides": dropped,
        "results": accuracy_rows(rows, cfg.judge, list(cfg.methods), list(prep.tasks.query_types)),
        "locality": locality,
        "retention": retention,
        "efficiency": efficiency,
        "config": cfg.settings(),
    }
