"""The ``prefedit`` command (Typer)."""
