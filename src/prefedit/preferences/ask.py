"""Asking the model itself for a statement's subject and target (when no rule fits)."""

from __future__ import annotations

import re
from typing import Any

from prefedit.models.chat import chat_prompt
from prefedit.models.generate import generate
from prefedit.preferences.loaders import AskModel
from prefedit.preferences.parse import parse_statement

_INSTRUCTION = (
    "Read what a user said about themselves and name the topic and the answer in this exact form:\n"
    "topic: <one to three words>\nanswer: <a short phrase from the statement>\n\n"
    "Example: I'm allergic to shellfish.\ntopic: allergy\nanswer: shellfish\n\nStatement: {statement}"
)
_LINE = re.compile(r"^\s*(topic|answer)\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


def model_asker(lm: Any) -> AskModel:
    """An AskModel callable that prompts ``lm`` and keeps its answer only if it is well formed.

    The answer must be a phrase that occurs in the statement (so a small model cannot invent a
    target); otherwise the callable returns None and the caller raises a specific error.
    """

    def ask(statement: str) -> tuple[str, str] | None:
        text = generate(lm, [chat_prompt(lm.tokenizer, _INSTRUCTION.format(statement=statement))], max_new_tokens=32)[0]
        found = {k.lower(): v.strip().strip(".") for k, v in _LINE.findall(text)}
        topic, answer = found.get("topic", ""), found.get("answer", "")
        if not topic or not answer or len(topic.split()) > 4 or answer.lower() not in statement.lower():
            return None
        return topic.lower(), answer

    return ask


def subject_and_target(statement: str, lm: Any | None = None) -> tuple[str, str] | None:
    """Rules first, then the model (when given)."""
    parsed = parse_statement(statement)
    if parsed is None and lm is not None:
        parsed = model_asker(lm)(statement)
    return parsed
