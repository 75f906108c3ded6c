"""``GET /v1/models`` (the base model only; users' edits are not separate models) and ``GET /health``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from prefedit.serve.auth import Principal, principal
from prefedit.serve.protocol import model_object

router = APIRouter()


@router.get("/v1/models")
async def list_models(request: Request, _caller: Principal = Depends(principal)) -> dict[str, Any]:
    engine = request.app.state.engine
    return {"object": "list", "data": [model_object(engine.model_name, engine.created)]}


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    """Liveness (no token needed)."""
    return {"status": "ok", "model": request.app.state.engine.model_name}
