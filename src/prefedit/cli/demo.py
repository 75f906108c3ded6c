"""``prefedit demo``: personalize the default model for a demo user and show before/after answers."""

from __future__ import annotations

import time
from importlib import resources

import typer
from rich.table import Table

from prefedit.cli._output import status, stdout, track
from prefedit.cli.main import app

UNRELATED = ("What is the capital of France?", "How many legs does a spider have?", "What is 12 multiplied by 8?")
KINDS = ("explicit", "paraphrased", "implicit", "recommendation")


@app.command(epilog="Examples:\n\n  prefedit demo\n\n  prefedit demo --limit 2\n\n  prefedit demo --method rome")
def demo(
    method: str = typer.Option("prefedit", help="Personalization method (e.g. prefedit, rome)."),
    model: str = typer.Option("smollm2-135m-instruct", help="Model name, folder or HF id."),
    limit: int = typer.Option(0, help="Use only the first N demo preferences (0 = all)."),
    max_new_tokens: int = typer.Option(40, help="Answer length in tokens, e.g. 40."),
) -> None:
    """Edit the demo user's preferences into the model and compare answers before and after."""
    from prefedit.deltas import applied, compose
    from prefedit.models import chat_prompt, generate, load_model
    from prefedit.personalize import preference_delta
    from prefedit.preferences import load_preferences

    status(f"loading {model} (the first run converts and caches it)")
    lm = load_model(model)
    path = resources.files("prefedit.data").joinpath("demo_preferences.json")
    with resources.as_file(path) as p:
        prefs = load_preferences(p)
    prefs = prefs[:limit] if limit else prefs
    out = stdout()

    def ask(questions: list[str]) -> list[str]:
        return generate(lm, [chat_prompt(lm.tokenizer, q) for q in questions], max_new_tokens=max_new_tokens)

    unrelated_before = ask(list(UNRELATED))
    deltas = []
    for pref in track(prefs, "editing preferences"):
        questions = [pref.questions[k] for k in KINDS]
        before = ask(questions)
        start = time.perf_counter()
        delta = preference_delta(lm, pref, method)
        seconds = time.perf_counter() - start
        with applied(lm, delta):
            after = ask(questions)
        deltas.append(delta)
        table = Table(title=f'"{pref.statement}"  ->  {pref.subject} = {pref.target}   (edit {seconds:.1f} s)', show_lines=True)
        for col in ("kind", "question", "before", "after"):
            table.add_column(col, overflow="fold")
        for kind, q, b, a in zip(KINDS, questions, before, after, strict=True):
            table.add_row(kind, q, b, a)
        out.print(table)
    with applied(lm, compose(deltas)):
        unrelated_after = ask(list(UNRELATED))
    table = Table(title=f"Unrelated prompts, with all {len(deltas)} edits applied", show_lines=True)
    for col in ("prompt", "before", "after", "same"):
        table.add_column(col, overflow="fold")
    for q, b, a in zip(UNRELATED, unrelated_before, unrelated_after, strict=True):
        table.add_row(q, b, a, "yes" if a == b else "NO")
    out.print(table)
