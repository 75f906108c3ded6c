"""``prefedit models ...``: list the registered base models; export one as a Hugging Face folder."""

from __future__ import annotations

from pathlib import Path

import typer

from prefedit.cli._output import print_json, status, stdout
from prefedit.cli.main import app
from prefedit.errors import ConfigError

models_app = typer.Typer(
    name="models",
    help="Base models: list the registered ones, export one as a Hugging Face folder.",
    epilog="Examples:\n\n  prefedit models list\n\n  prefedit models export smollm2-135m-instruct --out models/smollm2",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(models_app, name="models")


@models_app.command("list")
def list_(fmt: str = typer.Option("table", "--format", help="Output format: table or json.")) -> None:
    """List the registered model names."""
    from prefedit.models import MODELS

    rows = [{"name": name, "description": MODELS.help(name)} for name in MODELS.names()]
    if fmt == "json":
        print_json(rows)
        return
    for row in rows:
        stdout().print(f"{row['name']}\t{row['description']}", highlight=False)


@models_app.command("export")
def export(
    name: str = typer.Argument(..., help="Registered name, local folder or HF id, e.g. smollm2-135m-instruct."),
    out: Path = typer.Option(..., "--out", help="Output directory (must be empty or new). Example: models/smollm2"),
) -> None:
    """Write the base model and tokenizer as a Hugging Face folder (the base that `prefedit user export` adapters name)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} exists and is not an empty directory", hint="choose a new --out directory")
    from prefedit.models import load_model

    status(f"loading {name}")
    lm = load_model(name)
    out.mkdir(parents=True, exist_ok=True)
    lm.model.save_pretrained(out)
    lm.tokenizer.save_pretrained(out)
    typer.echo(str(out))
