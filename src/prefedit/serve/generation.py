"""One chat completion on a LoadedModel: prompt building, budget checks, generation and streaming.

Runs on the engine's model thread only (weights may carry a user's delta at that moment).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from prefedit.models.chat import DEFAULT_SYSTEM_PROMPT, format_chat
from prefedit.serve.errors import ContextLengthError
from prefedit.serve.protocol import DEFAULT_MAX_TOKENS


@dataclass(frozen=True)
class GenerationParams:
    """Decoding settings: greedy when ``temperature`` is None or 0."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Prompt:
    """A tokenized prompt and the number of new tokens it may get."""

    input_ids: torch.Tensor  # [1, prompt_tokens]
    budget: int

    @property
    def tokens(self) -> int:
        return int(self.input_ids.shape[1])


@dataclass(frozen=True)
class GenerationResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" or "length"


def context_size(lm: Any) -> int:
    cfg = lm.model.config
    return int(getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", 2048))


def build_prompt(lm: Any, messages: Sequence[dict[str, str]], max_tokens: int | None, *, system: str = DEFAULT_SYSTEM_PROMPT) -> Prompt:
    """Chat-template ``messages`` (adding the deployment's system prompt ``system``, the one edits
    are keyed under, when none is given) and check that prompt plus budget fit the context."""
    messages = list(messages)
    if not any(m["role"] == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": system})
    text = format_chat(lm.tokenizer, messages)
    ids = lm.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    room = context_size(lm) - ids.shape[1]
    budget = max_tokens if max_tokens is not None else min(DEFAULT_MAX_TOKENS, room)
    if budget < 1 or ids.shape[1] + budget > context_size(lm):
        raise ContextLengthError(
            f"the prompt has {ids.shape[1]} tokens and asks for {budget} more, but the model's context is {context_size(lm)} tokens",
            hint="shorten the messages or lower max_tokens",
        )
    return Prompt(input_ids=ids, budget=budget)


class _Streamer:
    """Receives generated token ids; passes newly decodable text to ``on_text``."""

    def __init__(self, tokenizer: Any, on_text: Callable[[str], None] | None) -> None:
        self.tokenizer, self.on_text = tokenizer, on_text
        self.ids: list[int] = []
        self.sent = 0
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate() first passes the prompt
            self.prompt_seen = True
            return
        self.ids.extend(value.reshape(-1).tolist())
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if self.on_text is not None and len(text) > self.sent and not text.endswith("\ufffd"):
            self.on_text(text[self.sent :])
            self.sent = len(text)

    def end(self) -> None:
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if self.on_text is not None and len(text) > self.sent:
            self.on_text(text[self.sent :])
            self.sent = len(text)


class _Cancelled:
    """A stopping criterion that fires once ``event`` is set (the client went away)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool)


@torch.no_grad()
def run_generation(
    lm: Any,
    prompt: Prompt,
    params: GenerationParams,
    *,
    on_text: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> GenerationResult:
    """Generate an answer to ``prompt`` with the weights as they are now."""
    from transformers import StoppingCriteriaList

    tok = lm.tokenizer
    sample = bool(params.temperature)
    kwargs: dict[str, Any] = {"do_sample": sample}
    if sample:
        kwargs.update(temperature=params.temperature, top_p=params.top_p or 1.0)
        if params.seed is not None:
            torch.manual_seed(params.seed)
    streamer = _Streamer(tok, on_text)
    ids = prompt.input_ids.to(lm.device)
    out = lm.model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=prompt.budget,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        streamer=streamer,
        stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]) if cancel is not None else None,
        **kwargs,
    )
    new = out[0, ids.shape[1] :].tolist()
    ended = bool(new) and new[-1] == tok.eos_token_id
    finish = "stop" if ended or len(new) < prompt.budget else "length"
    return GenerationResult(tok.decode(new, skip_special_tokens=True), prompt.tokens, len(new), finish)
