"""Distractor turns for the multi-turn setting: the conversations of ``inter_turns.json``.

A turn is one (user, assistant) pair; N turns are the first N pairs of the conversations
concatenated in file order, the same for every item.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from prefedit.errors import DataError

Pair = tuple[str, str]
FILENAME = "inter_turns.json"


def default_distractors_path(data_paths: Sequence[str | Path]) -> Path | None:
    """``<data dir>/../distractors/inter_turns.json`` of the first data file that has one."""
    for p in data_paths:
        candidate = Path(p).resolve().parent.parent / "distractors" / FILENAME
        if candidate.is_file():
            return candidate
    return None


def load_distractor_pairs(path: str | Path) -> list[Pair]:
    """Every (user, assistant) pair of every conversation, in file order.

    Raises:
        DataError: the file is not a list of ``{conversation: [{role, content}, ...]}`` with
            alternating user/assistant messages, naming the conversation and message.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read distractor conversations: {exc}") from exc
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a list of conversations, got {type(data).__name__}")
    pairs: list[Pair] = []
    for ci, conv in enumerate(data):
        msgs = conv.get("conversation") if isinstance(conv, dict) else None
        if not isinstance(msgs, list):
            raise DataError(f"{path}: conversation {ci}: field 'conversation' must be a list of messages")
        for mi in range(0, len(msgs) - 1, 2):
            user, assistant = msgs[mi], msgs[mi + 1]
            for j, (m, role) in enumerate(((user, "user"), (assistant, "assistant"))):
                if not isinstance(m, dict) or m.get("role") != role or not isinstance(m.get("content"), str):
                    raise DataError(f"{path}: conversation {ci}: message {mi + j}: expected role {role!r} with text content")
            pairs.append((user["content"], assistant["content"]))
    return pairs
