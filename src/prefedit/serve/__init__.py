"""An OpenAI-compatible HTTP server answering each request with that user's edits applied.

``build_app(Engine(lm, store), admin_token)`` gives the FastAPI app; ``prefedit serve`` runs it.
Nothing here is imported by ``prefedit`` itself, so the server's dependencies load only when used.
"""

from prefedit.serve.app import build_app, check_admin_token
from prefedit.serve.engine import Engine

__all__ = ["Engine", "build_app", "check_admin_token"]
