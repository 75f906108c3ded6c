"""``/v1/users/{id}/preferences``: list, add (edits and stores before answering), forget."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from prefedit.serve.auth import Principal, principal, require_access
from prefedit.serve.protocol import AddPreference, PrefIdPath, UserIdPath, preference_object
from prefedit.store import PreferenceDraft

router = APIRouter()


@router.get("/v1/users/{user_id}/preferences")
async def list_preferences(user_id: UserIdPath, request: Request, caller: Principal = Depends(principal)) -> dict[str, Any]:
    """The user's preferences, oldest first (superseded ones carry ``active: false``)."""
    require_access(caller, user_id)
    records = await run_in_threadpool(request.app.state.engine.preferences, user_id)
    return {"object": "list", "data": [preference_object(r) for r in records]}


@router.post("/v1/users/{user_id}/preferences")
async def add_preference(user_id: UserIdPath, body: AddPreference, request: Request, caller: Principal = Depends(principal)) -> dict[str, Any]:
    """Edit the model for this preference and store it; answers once both are done."""
    require_access(caller, user_id)
    draft = PreferenceDraft(body.statement, body.subject, body.target, body.supersedes)
    future = await run_in_threadpool(request.app.state.engine.submit_add, user_id, draft)
    record = await asyncio.wrap_future(future)
    return preference_object(record)


@router.delete("/v1/users/{user_id}/preferences/{pref_id}")
async def forget_preference(user_id: UserIdPath, pref_id: PrefIdPath, request: Request, caller: Principal = Depends(principal)) -> dict[str, Any]:
    """Forget a preference: its delta is deleted and the user's next request no longer carries it."""
    require_access(caller, user_id)
    await run_in_threadpool(request.app.state.engine.forget, user_id, pref_id)
    return {"id": pref_id, "object": "preference", "deleted": True}
