"""``POST /v1/users`` and ``DELETE /v1/users/{id}`` (admin token)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from prefedit.serve.auth import Principal, principal, require_admin
from prefedit.serve.protocol import CreateUser, UserIdPath

router = APIRouter()


@router.post("/v1/users")
async def create_user(body: CreateUser, request: Request, caller: Principal = Depends(principal)) -> dict[str, Any]:
    """Create a user; the answer carries their token, which is shown only this once."""
    require_admin(caller)
    token = await run_in_threadpool(request.app.state.engine.create_user, body.id)
    return {"id": body.id, "object": "user", "token": token}


@router.delete("/v1/users/{user_id}")
async def delete_user(user_id: UserIdPath, request: Request, caller: Principal = Depends(principal)) -> dict[str, Any]:
    """Remove a user with their preferences and deltas."""
    require_admin(caller, user_id)
    await run_in_threadpool(request.app.state.engine.delete_user, user_id)
    return {"id": user_id, "object": "user", "deleted": True}
