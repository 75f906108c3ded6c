"""``prefedit bench``: run methods on UPQA / multi-turn data and write results, summary and report."""

from __future__ import annotations

from pathlib import Path

import typer

from prefedit.cli._output import print_json, status, stdout, track
from prefedit.cli.main import app

EPILOG = (
    "Examples:\n\n"
    "  prefedit bench --data ../shared/data/upqa/balanced_subset.json --methods prompt,prefedit --limit 10 --out runs/quick\n\n"
    "  prefedit bench --data ../shared/data/upqa/balanced_subset_cluster9.json --methods paper-rome-cluster --protocol paper --out runs/paper\n\n"
    "  prefedit bench --data ../shared/data/upqa/balanced_subset.json --methods zero-shot,prompt,rag,prefedit --turns 0,2,4,6,8,10 --out runs/turns\n\n"
    "  prefedit bench --list-methods"
)


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers like 0,2,4, got {text!r}", param_hint=option) from None


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in (text or "").split(",") if x.strip())


def _print_methods() -> None:
    from prefedit.bench.methods import describe_methods

    rows = describe_methods()
    width = max(len(n) for n, _ in rows)
    for name, desc in rows:
        stdout().print(f"{name.ljust(width)}  {desc}", highlight=False, soft_wrap=True)


def _print_summary(summary: dict) -> None:
    from prefedit.bench.report import accuracy_table, _table

    turns = sorted({r["turns"] for r in summary["results"]})
    out = stdout()
    for t in turns:
        header, rows = accuracy_table(summary, t)
        out.print(f"accuracy (%), turns {t}, protocol {summary['protocol']}, judge {summary['judge']}, mode {summary['mode']}", highlight=False)
        out.print(_table(header, rows), highlight=False, soft_wrap=True)
        out.print("")


@app.command(epilog=EPILOG)
def bench(
    data: list[Path] = typer.Option(None, "--data", help="UPQA JSON (flat or clustered) or multi-turn file; repeat for more, e.g. ../shared/data/upqa/balanced_subset.json."),
    methods: str = typer.Option(None, "--methods", help="Comma-separated methods, e.g. prompt,rag,prefedit (see --list-methods)."),
    protocol: str = typer.Option("chat", "--protocol", help="chat (chat template, fixed system prompt, 48 tokens) or paper (the reference's prompts and budgets)."),
    judge: str = typer.Option("match", "--judge", help="Headline judge: match, embed or llm (PREFEDIT_LLM_*)."),
    turns: str = typer.Option("0", "--turns", help="Distractor turn counts, e.g. 0,2,4,6,8,10."),
    query_types: str = typer.Option(None, "--query-types", help="e.g. explicit,implicit (default: every type in the data)."),
    mode: str = typer.Option("independent", "--mode", help="independent, sequential, batch or per-user."),
    limit: int = typer.Option(None, "--limit", help="Items (users in per-user mode) after interleaving by type, e.g. 20."),
    model: str = typer.Option("smollm2-135m-instruct", "--model", help="Model name, folder or HF id."),
    seed: int = typer.Option(0, "--seed", help="Seed for probes, edits and training, e.g. 1."),
    resume: bool = typer.Option(False, "--resume", help="Keep the finished rows of a run with the same settings in --out; other --methods are added to it."),
    out: Path = typer.Option(None, "--out", help="Output directory, e.g. runs/quick."),
    distractors: Path = typer.Option(None, "--distractors", help="Distractor conversations (default: <data>/../distractors/inter_turns.json)."),
    list_methods: bool = typer.Option(False, "--list-methods", help="Print every method with a one-line description and exit."),
    threads: int = typer.Option(None, "--threads", help="torch CPU threads, e.g. 1 on a busy shared machine (default: torch's)."),
    dtype: str = typer.Option("float32", "--dtype", help="Weights of every method: float32, bfloat16 or float16."),
    fmt: str = typer.Option("table", "--format", help="Output on stdout: table or json (the summary)."),
    backend: str = typer.Option("hf", "--backend", hidden=True, help="hf, tiny or dummy (tests)."),
    isolate: bool = typer.Option(True, "--isolate/--no-isolate", hidden=True, help="One process per method (peak memory per method)."),
    batch_size: int = typer.Option(32, "--batch-size", hidden=True, help="Prompts per generation batch."),
) -> None:
    """Benchmark personalization methods on UPQA and multi-turn data (results.jsonl, summary.json, report.md)."""
    if list_methods:
        _print_methods()
        return
    if not data:
        raise typer.BadParameter("pass at least one --data PATH", param_hint="--data")
    if not methods:
        raise typer.BadParameter("pass --methods m1,m2 (see --list-methods)", param_hint="--methods")
    if out is None:
        raise typer.BadParameter("pass --out DIR (a new directory, or an earlier run's with --resume)", param_hint="--out")
    from prefedit.bench import BenchConfig, run_bench

    cfg = BenchConfig(
        data=tuple(str(p) for p in data), methods=_names(methods), out=str(out), protocol=protocol, judge=judge,
        turns=_ints(turns, "--turns"), query_types=_names(query_types), mode=mode, limit=limit, model=model, seed=seed,
        distractors=str(distractors) if distractors else None, backend=backend, isolate=isolate, batch_size=batch_size, threads=threads,
        dtype=dtype,
    )
    summary = run_bench(cfg, resume=resume, progress=lambda it, desc, total=None: track(it, desc, total), echo=status)
    status(f"wrote {Path(cfg.out) / 'results.jsonl'}, summary.json and report.md")
    if fmt == "json":
        print_json(summary)
    else:
        _print_summary(summary)
