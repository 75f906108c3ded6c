"""HTTP bodies of the server (pydantic) and the size limit of every input.

The limits are documented in ``docs/serving.md``; a body that breaks one answers 400 in the
OpenAI error shape, naming the offending field in ``param``.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from prefedit.store.records import MAX_STATEMENT, MAX_SUBJECT, MAX_TARGET, MAX_USER_ID, PREF_ID_PATTERN, USER_ID_PATTERN

MAX_BODY_BYTES = 1 << 20
MAX_MESSAGES = 256
MAX_CONTENT_CHARS = 32_000
MAX_MODEL_NAME = 256
MAX_TOKENS_LIMIT = 2048
DEFAULT_MAX_TOKENS = 256
MAX_PENDING_JOBS = 256

UserIdPath = Annotated[str, Path(min_length=1, max_length=MAX_USER_ID, pattern=USER_ID_PATTERN)]
PrefIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=PREF_ID_PATTERN)]


class CreateUser(BaseModel):
    """POST /v1/users."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=MAX_USER_ID, pattern=USER_ID_PATTERN)


class AddPreference(BaseModel):
    """POST /v1/users/{id}/preferences; subject and target are parsed from the statement when omitted."""

    model_config = ConfigDict(extra="forbid")
    statement: str = Field(min_length=1, max_length=MAX_STATEMENT)
    subject: str | None = Field(default=None, min_length=1, max_length=MAX_SUBJECT)
    target: str | None = Field(default=None, min_length=1, max_length=MAX_TARGET)
    supersedes: str | None = Field(default=None, pattern=PREF_ID_PATTERN)


class TextPart(BaseModel):
    type: Literal["text"]
    text: str = Field(max_length=MAX_CONTENT_CHARS)


class ChatMessage(BaseModel):
    """One message; ``content`` is a string or a list of text parts (OpenAI format)."""

    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] = Field(max_length=MAX_CONTENT_CHARS)
    name: str | None = Field(default=None, max_length=64)

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """POST /v1/chat/completions. Decoding is greedy unless ``temperature`` > 0.

    Fields of the OpenAI API that prefedit does not use (penalties, logprobs, tools, ...) are ignored.
    """

    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1, max_length=MAX_MODEL_NAME)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS_LIMIT)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS_LIMIT)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    n: int = Field(default=1, ge=1, le=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(default=None, min_length=1, max_length=MAX_USER_ID)

    @field_validator("messages")
    @classmethod
    def _total_size(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        total = sum(len(m.text()) for m in messages)
        if total > MAX_CONTENT_CHARS * 4:
            raise ValueError(f"messages hold {total} characters in all; the limit is {MAX_CONTENT_CHARS * 4}")
        return messages

    def budget(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


def completion_id() -> str:
    import secrets

    return "chatcmpl-" + secrets.token_hex(12)


def chat_completion(cid: str, model: str, text: str, finish: str, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """A ``chat.completion`` object."""
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish, "logprobs": None}],
        "usage": usage(prompt_tokens, completion_tokens),
    }


def chat_chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    """A ``chat.completion.chunk`` object (one streamed event)."""
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}


def preference_object(record: Any) -> dict[str, Any]:
    return {"object": "preference", **record.to_dict()}


def model_object(name: str, created: int) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": "prefedit"}
