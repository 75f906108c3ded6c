"""Prompts and answer budgets of the two protocols (never mixed in one run).

* ``chat``: the tokenizer's chat template, the fixed system prompt ``DEFAULT_SYSTEM_PROMPT``
  (the edit planner's own) for every method, greedy, up to 48 new tokens.
* ``paper`` (the reference's evaluation): the raw question for explicit, paraphrased, implicit
  and multi-turn questions; for recommendation questions the chat template with the reference's
  "respond concisely" system message; budget = the target's token count, +8 for every type but
  explicit. Only generated tokens are scored.

A method changes a prompt only through its ``Context``: text appended to the system prompt,
the preference stated as turn 1 (with the model's own reply), a prefix before the question and
a suffix after it. Distractor turns come between turn 1 and the question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prefedit.models.chat import DEFAULT_SYSTEM_PROMPT

CHAT_BUDGET = 48
PAPER_EXTRA_TOKENS = 8
# The reference's system message for recommendation questions (its ``system_msg_qa``).
PAPER_SYSTEM_PROMPT = (
    "Always respond to the input question concisely with a short phrase or a single-word answer. "
    "Do not repeat the question or provide any explanation."
)

Message = dict[str, str]


def chat_system_prompt(protocol: str) -> str:
    """The system prompt ``protocol`` asks its chat-templated questions under (the paper
    protocol: its recommendation questions). Edits keyed on chat prompts are planned under it,
    as a deployment that answers under its own system prompt sets ``--system-prompt``."""
    return DEFAULT_SYSTEM_PROMPT if protocol == "chat" else PAPER_SYSTEM_PROMPT


@dataclass(frozen=True)
class Context:
    """What a method adds around a question (empty for zero-shot and for editors)."""

    system_extra: str = ""
    statement: tuple[str, str] | None = None  # turn 1: (the user's statement, the model's reply)
    user_prefix: str = ""
    question_suffix: str = ""


@dataclass(frozen=True)
class Query:
    """One prompt to answer: the rendered text and its token budget."""

    item: str
    query_type: str
    turns: int
    prompt: str
    budget: int


def conversation(ctx: Context, pairs: Sequence[tuple[str, str]], turns: int) -> list[Message]:
    """Turn 1 (when the method states the preference), then ``turns`` distractor pairs."""
    msgs: list[Message] = []
    if ctx.statement is not None:
        msgs += [{"role": "user", "content": ctx.statement[0]}, {"role": "assistant", "content": ctx.statement[1]}]
    for user, assistant in pairs[:turns]:
        msgs += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return msgs


def _chat(backend: Any, system: str, ctx: Context, history: list[Message], question: str) -> str:
    sys_text = f"{system} {ctx.system_extra}".strip() if ctx.system_extra else system
    messages = [{"role": "system", "content": sys_text}, *history]
    messages.append({"role": "user", "content": f"{ctx.user_prefix}{question}{ctx.question_suffix}"})
    return str(backend.render_chat(messages, add_generation_prompt=True))


def _raw(backend: Any, ctx: Context, history: list[Message], question: str) -> str:
    # The reference puts its in-context prefix before the inter-turn text, then the raw question.
    head = ctx.user_prefix + (f"{ctx.system_extra}\n" if ctx.system_extra else "")
    if history:
        head += str(backend.render_chat(history, add_generation_prompt=False))
    return f"{backend.raw_prefix}{head}{question}{ctx.question_suffix}"


def render_query(
    backend: Any,
    protocol: str,
    ctx: Context,
    *,
    question: str,
    query_type: str,
    turns: int,
    pairs: Sequence[tuple[str, str]],
    target: str,
) -> tuple[str, int]:
    """(prompt text, new-token budget) of one question under ``protocol``."""
    history = conversation(ctx, pairs, turns)
    if protocol == "chat":
        return _chat(backend, DEFAULT_SYSTEM_PROMPT, ctx, history, question), CHAT_BUDGET
    budget = backend.n_tokens(target) + (0 if query_type == "explicit" else PAPER_EXTRA_TOKENS)
    if query_type == "recommendation":
        return _chat(backend, chat_system_prompt(protocol), ctx, history, question), budget
    return _raw(backend, ctx, history, question), budget


def render_probe(backend: Any, protocol: str, ctx: Context, prompt: str, budget_paper: int = 16) -> tuple[str, int]:
    """A locality/retention probe as the protocol renders a question (no distractors)."""
    history = conversation(ctx, (), 0)
    if protocol == "chat":
        return _chat(backend, DEFAULT_SYSTEM_PROMPT, ctx, history, prompt), CHAT_BUDGET
    return _raw(backend, ctx, history, prompt), budget_paper
