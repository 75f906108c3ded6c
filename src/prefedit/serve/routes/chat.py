"""``POST /v1/chat/completions`` (OpenAI format, streaming too) with the caller's edits applied.

With a user's token the answer comes from the base model carrying that user's delta, for this
request only; the admin token answers from the bare base model, or as the user named in ``user``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from prefedit.errors import NotFoundError
from prefedit.serve.auth import Principal, principal
from prefedit.serve.errors import error_body, error_kind
from prefedit.serve.generation import GenerationParams, GenerationResult
from prefedit.serve.protocol import ChatCompletionRequest, chat_chunk, chat_completion, completion_id, usage

router = APIRouter()


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, request: Request, caller: Principal = Depends(principal)) -> Any:
    engine = request.app.state.engine
    engine.check_model(body.model)
    user = chat_user(caller, body.user)
    delta = await run_in_threadpool(engine.user_delta, user) if user is not None else None
    messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in body.messages]
    params = GenerationParams(max_tokens=body.budget(), temperature=body.temperature, top_p=body.top_p, seed=body.seed)
    cid = completion_id()
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return await _stream(engine, delta, messages, params, _Ids(cid, engine.model_name, include_usage))
    result: GenerationResult = await asyncio.wrap_future(engine.submit_chat(delta, messages, params))
    return chat_completion(cid, engine.model_name, result.text, result.finish_reason, result.prompt_tokens, result.completion_tokens)


def chat_user(caller: Principal, named: str | None) -> str | None:
    """Whose edits answer: the token's user (``user`` may only repeat it), or for the admin the named user."""
    if caller.admin:
        return named
    if named is not None and named != caller.user:
        raise NotFoundError(f"no user {named!r}")
    return caller.user


@dataclass(frozen=True)
class _Ids:
    cid: str
    model: str
    include_usage: bool


async def _stream(engine: Any, delta: Any, messages: list[dict[str, str]], params: GenerationParams, ids: _Ids) -> Any:
    """Queue the job; answer a plain JSON error if it fails before its first token, else stream SSE."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    cancel = threading.Event()

    def put(kind: str, value: Any) -> None:
        try:
            loop.call_soon_threadsafe(events.put_nowait, (kind, value))
        except RuntimeError:  # the event loop is gone (server shutting down): stop generating
            cancel.set()

    future = engine.submit_chat(delta, messages, params, on_start=lambda p: put("start", p), on_text=lambda t: put("text", t), cancel=cancel)
    future.add_done_callback(lambda f: put("done", f))
    kind, value = await events.get()
    if kind == "done":
        value.result()  # raises: answered by the error handlers
    return StreamingResponse(_sse(events.get, cancel, ids), media_type="text/event-stream")


async def _sse(next_event: Callable[[], Any], cancel: threading.Event, ids: _Ids) -> AsyncIterator[str]:
    try:
        yield _data(chat_chunk(ids.cid, ids.model, {"role": "assistant", "content": ""}))
        while True:
            kind, value = await next_event()
            if kind == "text":
                yield _data(chat_chunk(ids.cid, ids.model, {"content": value}))
            elif kind == "done":
                for event in _final(value, ids):
                    yield _data(event)
                break
        yield "data: [DONE]\n\n"
    finally:
        cancel.set()  # the client went away (or we finished): stop generating


def _final(future: Future[GenerationResult], ids: _Ids) -> list[dict[str, Any]]:
    exc = future.exception()
    if exc is not None:  # failed mid-stream: the status line is sent already, so report in-band
        return [error_body("generation failed", error_kind(exc))]
    result = future.result()
    events = [chat_chunk(ids.cid, ids.model, {}, result.finish_reason)]
    if ids.include_usage:
        events.append({**chat_chunk(ids.cid, ids.model, {}), "choices": [], "usage": usage(result.prompt_tokens, result.completion_tokens)})
    return events


def _data(obj: dict[str, Any]) -> str:
    return f"data: {json.dumps(obj)}\n\n"
