"""Entry point of the ``prefedit`` command: sub-commands, error formatting and exit codes.

Errors print ``error: ...``, a blank line, then ``hint: ...`` on stderr; exit code 1 (2 for
usage errors). ``PREFEDIT_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import logging
import sys

import typer

from prefedit import __version__

app = typer.Typer(
    name="prefedit",
    help="Personalize a language model by editing its weights from what a user tells it.",
    epilog="Examples:\n\n  prefedit demo\n\n  prefedit edit \"I'm allergic to shellfish\" --question \"What should I avoid eating?\"\n\n  prefedit chat --prefs my_prefs.txt",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"prefedit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details to stderr."),
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def _register() -> None:
    # Each noun lives in its own module; importing registers its commands on ``app``.
    from prefedit.cli import demo, edit, personalize  # noqa: F401
    # SUBCOMMANDS (one line per module)
    from prefedit.cli import user  # noqa: F401
    from prefedit.cli import serve  # noqa: F401
    from prefedit.cli import models  # noqa: F401
    from prefedit.cli import bench  # noqa: F401


def main() -> None:
    """Run the CLI, turning PrefeditError into ``error:``/``hint:`` lines and exit code 1."""
    from prefedit.cli._output import debug, print_error
    from prefedit.errors import PrefeditError

    _register()
    try:
        rc = app(standalone_mode=False)
        sys.exit(rc if isinstance(rc, int) else 0)
    except PrefeditError as exc:
        if debug():
            raise
        print_error(exc)
        sys.exit(1)
    except SystemExit:
        raise
    except Exception as exc:  # click's usage errors and aborts (typer vendors click, so duck-type)
        if type(exc).__name__ == "Abort":
            print("aborted", file=sys.stderr)
            sys.exit(1)
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        raise
