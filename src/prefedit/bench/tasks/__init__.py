"""Bench tasks as versioned data: UPQA (explicit, paraphrased, implicit, recommendation questions)
and multi-turn items, the distractor conversations, and the prompts of each protocol.

Bump ``TASK_VERSION`` and add a ``CHANGELOG`` line on any change of prompts, budgets or judges.
"""

from prefedit.bench.tasks.data import BenchItem, TaskSet, interleave, load_items, load_tasks, select_items
from prefedit.bench.tasks.distractors import default_distractors_path, load_distractor_pairs
from prefedit.bench.tasks.prompts import (
    CHAT_BUDGET,
    PAPER_EXTRA_TOKENS,
    PAPER_SYSTEM_PROMPT,
    Context,
    Query,
    render_query,
)

TASK_VERSION = 3
CHANGELOG = (
    "1: UPQA + multi-turn tasks; chat protocol (fixed system prompt, 48 new tokens) and paper protocol "
    "(raw prompt; recommendation with the reference's concise system message; budget = target tokens, +8 "
    "for non-explicit types); judges match/embed/llm.",
    "2: retention probes are asked under the chat protocol in every run (under the paper protocol's raw "
    "prompts and short budgets the unedited model answered none of them).",
    "3: methods that key their edits on chat-templated prompts plan them under the system prompt the "
    "protocol asks its chat-templated questions with (paper protocol: the reference's concise message, "
    "with prefedit's guard questions), as a deployment sets --system-prompt; no change under chat.",
)

__all__ = [
    "CHANGELOG",
    "CHAT_BUDGET",
    "PAPER_EXTRA_TOKENS",
    "PAPER_SYSTEM_PROMPT",
    "TASK_VERSION",
    "BenchItem",
    "Context",
    "Query",
    "TaskSet",
    "default_distractors_path",
    "interleave",
    "load_distractor_pairs",
    "load_items",
    "load_tasks",
    "render_query",
    "select_items",
]
