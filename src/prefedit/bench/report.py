"""The Markdown report of a run: tables and matplotlib plots (Agg backend), from summary.json.

Every table carries the run's protocol, judge and mode in its header, so numbers from
different protocols are never read side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

ATTRIBUTION = (
    "UPQA data: Huang et al., \"Towards Effective Model Editing for LLM Personalization\" "
    "(amazon-science/personalization-editing-upqa), CC BY-NC 4.0; distractor turns from PrefEval (CC BY-NC 4.0)."
)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _num(x: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _methods(s: dict[str, Any]) -> list[str]:
    return list(s.get("methods") or dict.fromkeys(r["method"] for r in s["results"]))


def accuracy_table(s: dict[str, Any], turns: int) -> tuple[list[str], list[list[str]]]:
    qtypes = list(dict.fromkeys(r["query_type"] for r in s["results"]))
    acc = {(r["method"], r["query_type"]): r["accuracy"] for r in s["results"] if r["turns"] == turns}
    rows = []
    for m in _methods(s):
        vals = [acc.get((m, q)) for q in qtypes]
        known = [v for v in vals if v is not None]
        rows.append([m, *map(_pct, vals), _pct(sum(known) / len(known) if known else None)])
    return ["method", *qtypes, "mean"], rows


def turns_table(s: dict[str, Any]) -> tuple[list[int], dict[str, list[float | None]]]:
    turns = sorted({r["turns"] for r in s["results"]})
    series: dict[str, list[float | None]] = {}
    for m in _methods(s):
        vals = []
        for t in turns:
            xs = [r["accuracy"] for r in s["results"] if r["method"] == m and r["turns"] == t]
            vals.append(sum(xs) / len(xs) if xs else None)
        series[m] = vals
    return turns, series


def _bars(plt: Any, s: dict[str, Any], out: Path, tag: str) -> str | None:
    header, rows = accuracy_table(s, min(r["turns"] for r in s["results"]) if s["results"] else 0)
    if not rows:
        return None
    qtypes = header[1:-1]
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(qtypes) * len(rows)), 4))
    width = 0.8 / len(rows)
    for i, r in enumerate(rows):
        ax.bar([q + i * width for q in range(len(qtypes))], [float(v) if v != "-" else 0.0 for v in r[1:-1]], width, label=r[0])
    ax.set_xticks([q + 0.4 - width / 2 for q in range(len(qtypes))], qtypes)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"Accuracy by query type ({tag})", fontsize=9)
    ax.legend(fontsize=7)
    return _save(plt, fig, out / "accuracy_by_query_type.png")


def _turns(plt: Any, s: dict[str, Any], out: Path, tag: str) -> str | None:
    turns, series = turns_table(s)
    if len(turns) < 2:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for m, vals in series.items():
        ax.plot(turns, [100 * v if v is not None else float("nan") for v in vals], marker="o", label=m)
    ax.set_xlabel("distractor turns")
    ax.set_ylabel("accuracy (%), mean over query types")
    ax.set_ylim(0, 100)
    ax.set_title(f"Accuracy against turns ({tag})", fontsize=9)
    ax.legend(fontsize=7)
    return _save(plt, fig, out / "accuracy_vs_turns.png")


def _efficiency(plt: Any, s: dict[str, Any], out: Path, tag: str) -> str | None:
    eff = [e for e in s["efficiency"] if e.get("seconds_per_preference") is not None or e.get("peak_rss_mb") is not None]
    if not eff:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    names = [e["method"] for e in eff]
    axes[0].bar(names, [e.get("seconds_per_preference") or 0 for e in eff])
    axes[0].set_ylabel("seconds per preference")
    axes[1].bar(names, [e.get("peak_rss_mb") or 0 for e in eff])
    axes[1].set_ylabel("peak RSS (MiB)")
    for ax in axes:
        ax.tick_params(axis="x", rotation=30, labelsize=7)
    fig.suptitle(f"Efficiency ({s.get('dtype', '')}, {tag})", fontsize=9)
    return _save(plt, fig, out / "efficiency.png")


def _save(plt: Any, fig: Any, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"plots/{path.name}"


def _plots(root: Path, s: dict[str, Any]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = root / "plots"
    out.mkdir(exist_ok=True)
    tag = f"protocol {s['protocol']}, judge {s['judge']}, mode {s['mode']}"
    made = {"accuracy": _bars(plt, s, out, tag), "turns": _turns(plt, s, out, tag), "efficiency": _efficiency(plt, s, out, tag)}
    return {k: v for k, v in made.items() if v}


def render_markdown(s: dict[str, Any], plots: dict[str, str] | None = None) -> str:
    """The report text (plots linked when given)."""
    plots = plots or {}
    tag = f"protocol **{s['protocol']}**, judge **{s['judge']}**, mode **{s['mode']}**"
    parts = [
        "# prefedit bench report", "",
        f"Model `{s['model']}` (fingerprint `{s.get('fingerprint')}`, {s.get('dtype')}), {tag}, seed {s.get('seed')}, "
        f"{s.get('n_items')} items from {', '.join(Path(d).name for d in s['data'])}. Task version {s.get('task_version')}, "
        f"prefedit {s.get('prefedit_version')}.", "",
        f"Protocol: {s.get('protocol_details', {})}.", "", ATTRIBUTION, "",
    ]
    unfinished = [f"`{m}` {k} of {s['n_items']}" for m, k in s.get("items_done", {}).items() if s.get("n_items") and k < s["n_items"]]
    if unfinished:
        parts += [f"**Unfinished run**: items answered so far: {', '.join(unfinished)}; their figures cover only those items "
                  "(continue with `--resume`).", ""]
    turns0 = min((r["turns"] for r in s["results"]), default=0)
    header, rows = accuracy_table(s, turns0)
    parts += [f"## Accuracy (%) by query type, {turns0} distractor turns ({tag})", "", _table(header, rows), ""]
    if "accuracy" in plots:
        parts += [f"![accuracy by query type]({plots['accuracy']})", ""]
    turns, series = turns_table(s)
    if len(turns) > 1:
        parts += [f"## Accuracy (%) against distractor turns, mean over query types ({tag})", "",
                  _table(["method", *map(str, turns)], [[m, *map(_pct, v)] for m, v in series.items()]), ""]
        if "turns" in plots:
            parts += [f"![accuracy against turns]({plots['turns']})", ""]
    loc = {(r["method"], r["kind"]): r for r in s["locality"]}
    if loc:
        rows_l = [[m, *(f"{_pct(loc[(m, k)]['agreement'])} (n={loc[(m, k)]['n']})" if (m, k) in loc else "-" for k in ("other-users", "unrelated"))]
                  for m in _methods(s) if any((m, k) in loc for k in ("other-users", "unrelated"))]
        parts += ["## Locality: agreement (%) with the base model's greedy answers", "", _table(["method", "other-users", "unrelated"], rows_l), ""]
    if s["retention"]:
        edits = sorted({r["edits"] for r in s["retention"]})
        ret = {(r["method"], r["edits"]): r for r in s["retention"]}
        rows_r = [[m, *(_pct(ret[(m, e)]["accuracy"]) if (m, e) in ret else "-" for e in edits),
                   next((ret[(m, e)].get("accumulation", "") for e in edits[::-1] if (m, e) in ret), "")]
                  for m in _methods(s) if any((m, e) in ret for e in edits)]
        parts += ["## Retention (%) of general questions after N edits", "", _table(["method", *map(str, edits), "accumulation"], rows_r), ""]
    searched = any(e.get("search_dtype") for e in s["efficiency"])  # an editor searched in another dtype than the weights'
    rows_e = [[e["method"], _num(e.get("seconds_per_preference")), _num(e.get("peak_rss_mb"), "{:.0f}"),
               _num(e.get("bytes_per_preference"), "{:.0f}"), _num(e.get("switch_seconds"), "{:.4f}"), str(e.get("isolated", "")),
               *([e.get("search_dtype") or str(s.get("dtype"))] if searched else [])]
              for e in s["efficiency"]]
    parts += [f"## Efficiency ({s.get('dtype')} weights for every method)", "",
              _table(["method", "s / preference", "peak RSS (MiB)", "bytes / preference", "switch (s)", "own process",
                      *(["edit computed in"] if searched else [])], rows_e), ""]
    if "efficiency" in plots:
        parts += [f"![efficiency]({plots['efficiency']})", ""]
    parts += ["## Judges", "", *(f"- `{n}`: {info}" for n, info in s.get("judges", {}).items()), ""]
    departures = [f"- `{m}`: {'; '.join(info['departures'])}" for m, info in s.get("methods", {}).items() if info.get("departures")]
    if departures:
        parts += ["## Departures of the reference presets from the released setup", "", *departures, ""]
    return "\n".join(parts)


def write_report(root: Path, summary: dict[str, Any]) -> Path:
    """Write ``report.md`` and ``plots/*.png`` under ``root``."""
    plots = _plots(root, summary)
    path = root / "report.md"
    path.write_text(render_markdown(summary, plots), encoding="utf-8")
    return path
