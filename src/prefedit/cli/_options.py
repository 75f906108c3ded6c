"""Options several commands share."""

from __future__ import annotations

from typing import Any

import typer

SYSTEM_PROMPT_HELP = (
    "System prompt the deployment answers with: edits are keyed under it and chats without one get it "
    "[default: $PREFEDIT_SYSTEM_PROMPT or 'You are a helpful assistant.']. Use the same one for "
    "`user add`, `personalize` and `serve`."
)


def system_prompt_option() -> Any:
    return typer.Option(None, "--system-prompt", help=SYSTEM_PROMPT_HELP)


def resolve_system_prompt(value: str | None) -> str:
    """``--system-prompt``, else the ``PREFEDIT_SYSTEM_PROMPT`` setting (checked: not blank)."""
    from prefedit.errors import ConfigError
    from prefedit.models.chat import DEFAULT_SYSTEM_PROMPT
    from prefedit.settings import get_settings

    setting = get_settings().system_prompt
    text = value if value is not None else setting if setting is not None else DEFAULT_SYSTEM_PROMPT
    if not text.strip():
        raise ConfigError("the system prompt is empty", hint="pass --system-prompt TEXT or unset PREFEDIT_SYSTEM_PROMPT")
    return text
