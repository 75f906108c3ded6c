"""Chat formatting through the tokenizer's own template (with a plain fallback for base models)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

Message = dict[str, str]


def format_chat(tokenizer: Any, messages: Sequence[Message], *, add_generation_prompt: bool = True) -> str:
    """Render ``messages`` with the tokenizer's chat template, as text ready to tokenize.

    Tokenizers without a template (e.g. GPT-2) get a plain ``Role: text`` transcript.
    """
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=add_generation_prompt
        )
    lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    if add_generation_prompt:
        lines.append("Assistant:")
    return "\n".join(lines)


def chat_prompt(
    tokenizer: Any,
    question: str,
    *,
    system: str | None = DEFAULT_SYSTEM_PROMPT,
    history: Sequence[Message] = (),
) -> str:
    """A single user question (after optional history) with the fixed system prompt."""
    messages: list[Message] = []
    if system is not None:
        messages.append({"role": "system", "content": system})
    messages.extend(history)
    messages.append({"role": "user", "content": question})
    return format_chat(tokenizer, messages)


def raw_prefix(tokenizer: Any) -> str:
    """What a raw (untemplated) prompt starts with: the BOS text where the tokenizer adds one itself."""
    ids = tokenizer("a").input_ids
    return str(tokenizer.bos_token) if tokenizer.bos_token_id is not None and ids[:1] == [tokenizer.bos_token_id] else ""


def raw_prompt(tokenizer: Any, question: str) -> str:
    """``question`` as a plain completion prompt (no template), as the paper protocol asks it."""
    return raw_prefix(tokenizer) + question
