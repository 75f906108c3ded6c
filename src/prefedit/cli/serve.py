"""``prefedit serve``: the OpenAI-compatible server with per-user edits (see docs/serving.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from prefedit.cli._options import resolve_system_prompt, system_prompt_option
from prefedit.cli._output import status
from prefedit.cli.main import app


@app.command(
    "serve",
    epilog=(
        "Examples:\n\n  PREFEDIT_ADMIN_TOKEN=$(openssl rand -hex 32) prefedit serve --port 8000\n\n"
        "  prefedit serve --host 127.0.0.1 --port 8000 --admin-token s3cret --home /srv/prefedit\n\n"
        "  prefedit serve --model ./my-llama --method rome --admin-token s3cret"
    ),
)
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind. Example: 0.0.0.0"),
    port: int = typer.Option(8000, "--port", help="Port to listen on. Example: 8080"),
    admin_token: str | None = typer.Option(None, "--admin-token", help="Admin bearer token [default: $PREFEDIT_ADMIN_TOKEN]; required."),
    home: Path | None = typer.Option(None, "--home", help="Store directory [default: $PREFEDIT_HOME or ~/.prefedit]."),
    model: str = typer.Option("smollm2-135m-instruct", "--model", "-m", help="Base model: registered name, local folder or HF id."),
    method: str = typer.Option("prefedit", "--method", help="Personalization method for new preferences. Example: rome"),
    cache_size: int = typer.Option(256, "--cache-size", help="Composed user deltas kept in memory."),
    system_prompt: str | None = system_prompt_option(),
) -> None:
    """Serve the base model over an OpenAI-compatible API, each request with its user's edits."""
    import uvicorn

    from prefedit.models import load_model
    from prefedit.personalize import method_spec
    from prefedit.serve import Engine, build_app, check_admin_token
    from prefedit.settings import get_settings
    from prefedit.store import Store

    settings = get_settings()
    token = check_admin_token(admin_token or settings.admin_token)
    method_spec(method)  # an unknown method fails before the model loads
    system = resolve_system_prompt(system_prompt)
    store = Store.open(home, settings=settings)
    status(f"loading {model}")
    engine = Engine(load_model(model, settings=settings), store, method=method, cache_size=cache_size,
                    system_prompt=system)
    status(f"serving {engine.model_name} on http://{host}:{port} (store: {store.home})")
    uvicorn.run(build_app(engine, token), host=host, port=port, log_level="warning")
