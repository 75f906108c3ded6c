"""Model backends of the bench: a small interface (``generate``, ``loglikelihood``) plus chat
rendering and token counting, implemented over a LoadedModel (``HFBackend``) and by a
deterministic ``DummyBackend`` for wiring tests.

``loglikelihood`` follows lm-evaluation-harness: for each (context, continuation) it returns
the continuation's log-probability and whether greedy decoding would produce it token for token.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import torch

from prefedit.deltas import Delta
from prefedit.deltas.routed import Routed
from prefedit.models.chat import format_chat, raw_prefix
from prefedit.models.generate import generate

Message = dict[str, str]


@runtime_checkable
class Backend(Protocol):
    """What the bench needs from a model."""

    name: str
    lm: Any  # the LoadedModel editing methods change, or None
    raw_prefix: str  # text a raw prompt starts with (BOS where the tokenizer adds one)
    eos_text: str
    max_context: int | None

    def generate(self, prompts: Sequence[str], budgets: Sequence[int], route: Sequence[int] | None = None) -> list[str]: ...

    def loglikelihood(self, requests: Sequence[tuple[str, str]], route: Sequence[int] | None = None) -> list[tuple[float, bool]]: ...

    def render_chat(self, messages: Sequence[Message], *, add_generation_prompt: bool = True) -> str: ...

    def n_tokens(self, text: str) -> int: ...


class TokenizerBackend:
    """Rendering and counting only (checks before a run loads any weights)."""

    lm: Any = None

    def __init__(self, tokenizer: Any, name: str, max_context: int | None) -> None:
        self.tokenizer, self.name, self.max_context = tokenizer, name, max_context
        self.raw_prefix = raw_prefix(tokenizer)
        self.eos_text = tokenizer.eos_token or ""

    def render_chat(self, messages: Sequence[Message], *, add_generation_prompt: bool = True) -> str:
        return format_chat(self.tokenizer, messages, add_generation_prompt=add_generation_prompt)

    def n_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False).input_ids)

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def generate(self, prompts: Sequence[str], budgets: Sequence[int]) -> list[str]:
        raise NotImplementedError("a tokenizer-only backend cannot generate")

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        raise NotImplementedError("a tokenizer-only backend cannot score")


class HFBackend(TokenizerBackend):
    """A LoadedModel: greedy batched generation through ``prefedit.models.generate``."""

    def __init__(self, lm: Any, *, batch_size: int = 32, skip_unchanged_layers: bool = True) -> None:
        from prefedit.bench.skip import LayerStates

        cfg = lm.model.config
        super().__init__(lm.tokenizer, lm.name, getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None))
        self.lm = lm
        self.batch_size = batch_size
        self.skip = skip_unchanged_layers
        self.states = LayerStates(lm)
        self.routed: Routed | None = None

    @contextlib.contextmanager
    def routing(self, deltas: Sequence[Delta | None]) -> Iterator[None]:
        """Within: ``generate``/``loglikelihood`` take ``route`` (a delta index per request) and
        compute each request as if only its delta were applied (``prefedit.deltas.routed``)."""
        with Routed(self.lm, deltas) as routed:
            self.routed = routed
            try:
                yield
            finally:
                self.routed = None

    def _on_batch(self, route: Sequence[int] | None) -> Callable[[list[int]], None] | None:
        if route is None:
            return None
        if self.routed is None:
            raise RuntimeError("route given outside HFBackend.routing(...)")
        routed = self.routed
        return lambda idx: routed.rows([route[i] for i in idx])

    def generate(self, prompts: Sequence[str], budgets: Sequence[int], route: Sequence[int] | None = None) -> list[str]:
        if not prompts:
            return []
        return generate(self.lm, list(prompts), max_new_tokens_each=list(budgets), batch_size=self.batch_size, on_batch=self._on_batch(route),
                        share_keys=route)

    @torch.no_grad()
    def loglikelihood(self, requests: Sequence[tuple[str, str]], route: Sequence[int] | None = None) -> list[tuple[float, bool]]:
        """Context and continuation are tokenized apart (as generation sees them); right padding."""
        encoded = [(self._ids(c), self._ids(x)) for c, x in requests]
        order = sorted(range(len(encoded)), key=lambda i: -sum(map(len, encoded[i])))
        out: list[tuple[float, bool]] = [(0.0, False)] * len(encoded)
        step = min(self.batch_size, 16)  # full-vocabulary logits of every position are large
        on_batch = self._on_batch(route)
        for start in range(0, len(order), step):
            idx = order[start : start + step]
            if on_batch is not None:
                on_batch(idx)
            for i, res in zip(idx, self._score([encoded[i] for i in idx]), strict=True):
                out[i] = res
        return out

    @torch.no_grad()
    def _score(self, pairs: list[tuple[list[int], list[int]]]) -> list[tuple[float, bool]]:
        pad = self.tokenizer.pad_token_id or 0
        seqs = [c + x for c, x in pairs]
        width = max(map(len, seqs))
        dev = self.lm.device
        ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs], device=dev)
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs], device=dev)
        # Logits only where a continuation token is predicted (full-vocabulary logits are large).
        keep = sorted({p for c, x in pairs for p in range(len(c) - 1, len(c) + len(x) - 1)})
        column = {p: i for i, p in enumerate(keep)}
        logits = self._logits(seqs, ids, mask, torch.tensor(keep, device=dev))
        results = []
        for row, (ctx, cont) in enumerate(pairs):
            cols = torch.tensor([column[p] for p in range(len(ctx) - 1, len(ctx) + len(cont) - 1)], device=dev)
            target = torch.tensor(cont, device=dev)
            lp = torch.log_softmax(logits[row, cols].float(), dim=-1)  # [len(cont), vocab]
            greedy = bool((lp.argmax(-1) == target).all())
            results.append((float(lp.gather(-1, target[:, None]).sum()), greedy))
        return results


    def _logits(self, seqs: list[list[int]], ids: torch.Tensor, mask: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Logits at ``keep``; resumes at the first edited layer when deltas allow (see ``skip.py``)."""
        from prefedit.bench.skip import first_changed_layer

        layer = first_changed_layer(self.lm, self.routed.deltas if self.routed is not None else ()) if self.skip else 0
        if layer <= 0:
            return self.lm.model(input_ids=ids, attention_mask=mask, use_cache=False, logits_to_keep=keep).logits
        hidden = self.states.batch(layer, seqs, ids, mask)
        with self.lm.arch.resumed_at(layer, hidden):
            return self.lm.model(input_ids=ids, attention_mask=mask, use_cache=False, logits_to_keep=keep).logits


class DummyBackend:
    """A deterministic fake model for wiring tests: ``answer(prompt) -> text`` (default: echo)."""

    lm: Any = None
    name = "dummy"
    raw_prefix = ""
    eos_text = "</s>"
    max_context: int | None = 1_000_000

    def __init__(self, answer: Callable[[str], str] | None = None) -> None:
        self.answer = answer or (lambda prompt: prompt[-200:])
        self.calls: list[int] = []  # prompts per generate call, for batching tests

    def generate(self, prompts: Sequence[str], budgets: Sequence[int], route: Sequence[int] | None = None) -> list[str]:
        self.calls.append(len(prompts))
        return [" ".join(self.answer(p).split()[:b]) for p, b in zip(prompts, budgets, strict=True)]

    def loglikelihood(self, requests: Sequence[tuple[str, str]], route: Sequence[int] | None = None) -> list[tuple[float, bool]]:
        out = []
        for ctx, cont in requests:
            greedy = " ".join(self.answer(ctx).split()) + self.eos_text
            ok = greedy.startswith(cont) or greedy.startswith(cont.removesuffix(self.eos_text))
            out.append((0.0 if ok else -1.0, ok))
        return out

    def render_chat(self, messages: Sequence[Message], *, add_generation_prompt: bool = True) -> str:
        text = "".join(f"<{m['role']}>\n{m['content']}\n" for m in messages)
        return text + ("<assistant>\n" if add_generation_prompt else "")

    def n_tokens(self, text: str) -> int:
        return len(text.split())


def load_tokenizer_backend(model: str) -> TokenizerBackend:
    """Tokenizer and context length of ``model`` without loading its weights."""
    from pathlib import Path

    from transformers import AutoConfig, AutoTokenizer

    from prefedit.models.load import MODELS, convert_packaged
    from prefedit.settings import get_settings

    source: str | Path = convert_packaged(MODELS.get(model), get_settings()) if model in MODELS else model
    tok = AutoTokenizer.from_pretrained(source, local_files_only=True)
    cfg = AutoConfig.from_pretrained(source, local_files_only=True)
    return TokenizerBackend(tok, model, getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None))


def make_backend(kind: str, model: str, *, dtype: str = "float32", batch_size: int = 32) -> Backend:
    """``hf`` (load_model), ``tiny`` (a random tiny model of family ``model``) or ``dummy``."""
    if kind == "dummy":
        return DummyBackend()
    if kind == "tiny":
        from prefedit.testing import tiny_model

        return HFBackend(tiny_model(model), batch_size=batch_size)
    from prefedit.models import load_model

    return HFBackend(load_model(model, dtype=dtype), batch_size=batch_size)
