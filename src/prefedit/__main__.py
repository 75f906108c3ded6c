"""``python -m prefedit`` runs the CLI."""

from prefedit.cli.main import main

main()
