"""``prefedit personalize``: edit a preferences file into one delta per user."""

from __future__ import annotations

from pathlib import Path

import typer

from prefedit.cli._options import resolve_system_prompt, system_prompt_option
from prefedit.cli._output import print_json, status
from prefedit.cli.main import app


@app.command(
    epilog="Examples:\n\n  prefedit personalize --prefs prefs.txt --out deltas/\n\n"
    "  prefedit personalize --prefs users.jsonl --method memit --out deltas/\n\n"
    "  prefedit personalize --prefs prefs.json --model ./my-model --out deltas/"
)
def personalize(
    prefs: Path = typer.Option(..., help="Preferences file: UPQA JSON, JSONL or one statement per line."),
    out: Path = typer.Option(..., help="Output folder: one sub-folder per user holding delta.safetensors."),
    method: str = typer.Option("prefedit", help="Personalization method, e.g. prefedit, rome, memit."),
    model: str = typer.Option("smollm2-135m-instruct", help="Model name, folder or HF id."),
    system_prompt: str | None = system_prompt_option(),
) -> None:
    """Edit every user's preferences into one delta per user (forget = re-run without the line)."""
    from prefedit.deltas import save_delta
    from prefedit.models import load_model
    from prefedit.personalize import method_spec
    from prefedit.personalize import personalize as run
    from prefedit.preferences import load_preferences
    from prefedit.preferences.ask import model_asker

    method_spec(method)  # unknown methods fail before the model loads
    system = resolve_system_prompt(system_prompt)
    status(f"loading {model}")
    lm = load_model(model)
    items = load_preferences(prefs, ask_model=model_asker(lm))
    status(f"editing {len(items)} preference(s) with {method}")
    deltas = run(lm, items, method, system=system)
    written = {}
    for user, delta in deltas.items():
        path = save_delta(delta, out / user / "delta.safetensors")
        written[user] = {"path": str(path), "preferences": delta.info.preference_ids, "bytes": path.stat().st_size}
    print_json({"method": method, "model": lm.name, "fingerprint": lm.fingerprint, "users": written})
