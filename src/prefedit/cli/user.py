"""``prefedit user ...``: add, import, list, forget and delete a user's preferences; export their edits.

The store lives in ``--home`` (default ``$PREFEDIT_HOME`` or ``~/.prefedit``), the same one
``prefedit serve`` uses, so users added here are served there (and the other way round).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from prefedit.cli._options import resolve_system_prompt, system_prompt_option
from prefedit.cli._output import print_json, status, stdout
from prefedit.cli.main import app
from prefedit.errors import ConfigError, ExportError

user_app = typer.Typer(
    name="user",
    help="Manage users' preferences in the store (the edits the server applies per user).",
    epilog=(
        "Examples:\n\n  prefedit user add alice \"I'm allergic to shellfish\"\n\n"
        "  prefedit user add alice \"I moved to Porto\" --subject city --target Porto --supersedes pref_0123456789abcdef\n\n"
        "  prefedit user list alice --format json\n\n  prefedit user export alice --to peft --out adapters/alice --base models/smollm2"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(user_app, name="user")

HOME = typer.Option(None, "--home", help="Store directory [default: $PREFEDIT_HOME or ~/.prefedit]. Example: --home /srv/prefedit")
MODEL = typer.Option("smollm2-135m-instruct", "--model", "-m", help="Base model: registered name, local folder or HF id.")
METHOD = typer.Option("prefedit", "--method", help="Personalization method: prefedit (default) or an editor name, e.g. rome.")
FORMAT = typer.Option("table", "--format", help="Output format: table or json.")


def _store(home: Path | None) -> Any:
    from prefedit.store import Store

    return Store.open(home)


def _personalizer(home: Path | None, model: str, method: str, system_prompt: str | None) -> Any:
    from prefedit.models import load_model
    from prefedit.personalize import method_spec
    from prefedit.store import Personalizer

    method_spec(method)  # an unknown method fails before the model loads
    system = resolve_system_prompt(system_prompt)
    store = _store(home)
    status(f"loading {model}")
    return Personalizer(load_model(model), store, method, system_prompt=system)


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "json"):
        raise ConfigError(f"--format must be table or json, got {fmt!r}")


def _show_preferences(records: list[Any], fmt: str) -> None:
    if fmt == "json":
        print_json([r.to_dict() for r in records])
        return
    from rich.table import Table

    table = Table("id", "subject", "target", "active", "supersedes", "statement", box=None)
    for r in records:
        table.add_row(r.id, r.subject, r.target, "yes" if r.active else "no", r.supersedes or "", r.statement)
    stdout().print(table)


@user_app.command("add")
def add(
    user: str = typer.Argument(..., help="User id, e.g. alice (created when missing)."),
    statement: str = typer.Argument(..., help="What the user said, e.g. \"I live in Lisbon\"."),
    subject: str | None = typer.Option(None, "--subject", help="What it is about (parsed from the statement when omitted). Example: city"),
    target: str | None = typer.Option(None, "--target", help="The answer (parsed when omitted). Example: Lisbon"),
    supersedes: str | None = typer.Option(None, "--supersedes", help="Id of the preference this one replaces."),
    home: Path | None = HOME,
    model: str = MODEL,
    method: str = METHOD,
    fmt: str = FORMAT,
    system_prompt: str | None = system_prompt_option(),
) -> None:
    """Edit the model for one preference and store it."""
    from prefedit.store import PreferenceDraft

    _check_format(fmt)
    draft = PreferenceDraft(statement, subject, target, supersedes)
    personalizer = _personalizer(home, model, method, system_prompt)
    status(f"editing with {method}")
    _show_preferences(personalizer.add(user, [draft], create_user=True), fmt)


@user_app.command("import")
def import_(
    user: str = typer.Argument(..., help="User id (created when missing)."),
    file: Path = typer.Argument(..., help="Preferences: .txt (one statement a line), .jsonl or .json (UPQA too)."),
    home: Path | None = HOME,
    model: str = MODEL,
    method: str = METHOD,
    fmt: str = FORMAT,
    system_prompt: str | None = system_prompt_option(),
) -> None:
    """Edit and store every preference in FILE, all or nothing."""
    _check_format(fmt)
    personalizer = _personalizer(home, model, method, system_prompt)
    status(f"editing with {method}")
    _show_preferences(personalizer.import_file(user, file), fmt)


@user_app.command("list")
def list_(
    user: str | None = typer.Argument(None, help="A user id; without it, list the users."),
    home: Path | None = HOME,
    fmt: str = FORMAT,
) -> None:
    """List the users, or one user's preferences (superseded ones marked inactive)."""
    _check_format(fmt)
    store = _store(home)
    if user is not None:
        _show_preferences(store.preferences(user), fmt)
        return
    users = store.users()
    if fmt == "json":
        print_json([u.to_dict() for u in users])
        return
    from rich.table import Table

    table = Table("user", "preferences", "token", box=None)
    for u in users:
        table.add_row(u.id, str(u.preferences), "yes" if u.has_token else "no")
    stdout().print(table)


@user_app.command("forget")
def forget(
    user: str = typer.Argument(..., help="User id."),
    pref_id: str = typer.Argument(..., help="Preference id (see `prefedit user list USER`)."),
    home: Path | None = HOME,
) -> None:
    """Forget one preference: its delta is deleted; a preference it superseded is active again."""
    record = _store(home).forget(user, pref_id)
    status(f"forgot {record.id} ({record.subject}: {record.target})")


@user_app.command("delete")
def delete(user: str = typer.Argument(..., help="User id."), home: Path | None = HOME) -> None:
    """Delete a user with all their preferences and deltas."""
    _store(home).delete_user(user)
    status(f"deleted user {user}")


@user_app.command("token")
def token(user: str = typer.Argument(..., help="User id (created when missing)."), home: Path | None = HOME) -> None:
    """Print a new bearer token for USER (the previous one stops working)."""
    store = _store(home)
    store.ensure_user(user)
    typer.echo(store.issue_token(user))


@user_app.command("export")
def export(
    user: str = typer.Argument(..., help="User id."),
    to: str = typer.Option("peft", "--to", help="Export format (peft: a PEFT LoRA adapter directory)."),
    out: Path = typer.Option(..., "--out", help="Output directory. Example: adapters/alice"),
    base: str | None = typer.Option(None, "--base", help="Base model path the adapter names (the folder of `prefedit models export`) [default: --model]."),
    home: Path | None = HOME,
    model: str = MODEL,
) -> None:
    """Export USER's composed edits as a PEFT LoRA adapter on the base model (prints the export report)."""
    if to != "peft":
        raise ConfigError(f"--to must be peft, got {to!r}")
    from prefedit.models import load_model
    from prefedit.store import Personalizer

    store = _store(home)
    store.preferences(user)  # NotFoundError before loading a model
    status(f"loading {model}")
    lm = load_model(model)
    delta = Personalizer(lm, store).user_delta(user)
    if delta is None:
        raise ExportError(f"user {user!r} has no preferences to export", hint=f"add one: prefedit user add {user} \"I live in Lisbon\"")
    from prefedit.deltas.peft_export import export_peft

    print_json(export_peft(lm, delta, out, base or model).to_dict())
