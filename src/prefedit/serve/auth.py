"""Who is calling: the admin (the server's admin token) or a user (their bearer token).

A user's token reaches only that user's data: any other user's path answers 404, exactly as if
that user did not exist, so tokens cannot probe for user ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from prefedit.errors import NotFoundError
from prefedit.serve.errors import AuthenticationError, PermissionDeniedError
from prefedit.store.tokens import MAX_TOKEN, same_secret


@dataclass(frozen=True)
class Principal:
    """The caller: ``admin`` or the user ``user``."""

    user: str | None
    admin: bool = False


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError("missing bearer token", hint="send the header 'Authorization: Bearer <token>'")
    if len(token) > MAX_TOKEN:
        raise AuthenticationError(f"the bearer token is longer than {MAX_TOKEN} characters")
    return token


async def principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller (401 otherwise)."""
    token = bearer_token(request)
    if same_secret(token, request.app.state.admin_token):
        return Principal(user=None, admin=True)
    user = await run_in_threadpool(request.app.state.engine.store.user_for_token, token)
    if user is None:
        raise AuthenticationError("invalid bearer token", hint="ask the server's admin for a token (POST /v1/users)")
    return Principal(user=user)


def require_admin(caller: Principal, path_user: str | None = None) -> None:
    """Admin-only: a user token gets 403 on its own path, 404 on anyone else's."""
    if caller.admin:
        return
    if path_user is not None and path_user != caller.user:
        raise _not_found(path_user)
    raise PermissionDeniedError("this operation needs the admin token")


def require_access(caller: Principal, user_id: str) -> None:
    """The admin reaches every user; a user only themselves (others answer 404)."""
    if not caller.admin and caller.user != user_id:
        raise _not_found(user_id)


def _not_found(user_id: str) -> NotFoundError:
    return NotFoundError(f"no user {user_id!r}")
