"""The FastAPI application: routers, error handlers and the request body limit.

Run it with ``prefedit serve --admin-token T`` (see ``docs/serving.md``), or build it in code::

    engine = Engine(load_model(), Store.open())
    app = build_app(engine, admin_token="...")
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prefedit import __version__
from prefedit.errors import ConfigError, DataError
from prefedit.serve.engine import Engine
from prefedit.serve.errors import error_response, install_error_handlers
from prefedit.serve.protocol import MAX_BODY_BYTES
from prefedit.serve.routes import chat, models, preferences, users


def check_admin_token(admin_token: str | None) -> str:
    """The admin token, or ConfigError: the server never starts without one."""
    if not admin_token or not admin_token.strip():
        raise ConfigError(
            "the server needs an admin token",
            hint="pass --admin-token T or set PREFEDIT_ADMIN_TOKEN (e.g. PREFEDIT_ADMIN_TOKEN=$(openssl rand -hex 32))",
        )
    return admin_token


def build_app(engine: Engine, admin_token: str | None) -> FastAPI:
    """The server app for ``engine``; refuses to build without an admin token."""
    admin_token = check_admin_token(admin_token)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.close()

    app = FastAPI(title="prefedit", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.engine = engine
    app.state.admin_token = admin_token
    install_error_handlers(app)
    for module in (users, preferences, chat, models):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    return app


class BodyLimit:
    """Answer 400 to request bodies larger than ``limit`` bytes (declared or actually sent)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise DataError(f"request body is larger than {self.limit} bytes")
            return message

        await self.app(scope, limited, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(DataError(f"request body is larger than the limit of {self.limit} bytes"))
        await response(scope, receive, send)
