"""Shared-prefix generation: long prompts that share a conversation reuse one prefill, and every
answer equals the one plain left-padded generation gives."""

from __future__ import annotations

import pytest

from prefedit.bench.backends import HFBackend
from prefedit.deltas import applied
from prefedit.models.chat import format_chat
from prefedit.models.generate import _plan_groups, generate

from test_routed import _deltas


def _conversation_prompts(lm, turns=(0, 2, 4, 6)) -> list[str]:
    """Questions after 0..6 turns of one conversation (byte tokenizer: ~40 tokens a turn)."""
    history = [{"role": "system", "content": "You are a helpful assistant."}]
    for t in range(max(turns)):
        history += [{"role": "user", "content": f"What about topic {t}?"}, {"role": "assistant", "content": f"Topic {t} is fine."}]
    return [format_chat(lm.tokenizer, history[: 1 + 2 * n] + [{"role": "user", "content": q}])
            for n in turns for q in ("What do I like to eat?", "Where should I travel?")]


@pytest.mark.parametrize("family", ["llama", "qwen2", "olmo2", "gpt2"])
def test_shared_prefix_answers_equal_padded_generation(tiny, family) -> None:
    lm = tiny(family)
    prompts = _conversation_prompts(lm)
    budgets = [10, 4] * (len(prompts) // 2)
    plain = generate(lm, prompts, max_new_tokens_each=budgets, share_min_tokens=0)
    shared = generate(lm, prompts, max_new_tokens_each=budgets, share_min_tokens=64)
    assert shared == plain
    ids = [lm.tokenizer(p, add_special_tokens=False).input_ids for p in prompts]
    long = [i for i, x in enumerate(ids) if len(x) >= 64]
    groups = _plan_groups(ids, long, [None] * len(ids), budgets)
    assert len(groups) < len(long)  # the conversation's questions did share a prefill


def test_shared_prefix_with_an_edit_applied(tiny) -> None:
    lm = tiny("llama")
    prompts = _conversation_prompts(lm)
    for delta in _deltas(lm):
        with applied(lm, delta):
            assert generate(lm, prompts, max_new_tokens=6, share_min_tokens=64) == generate(lm, prompts, max_new_tokens=6, share_min_tokens=0)


def test_routed_rows_share_a_prefill_only_within_their_route(tiny) -> None:
    lm = tiny("llama")
    deltas = _deltas(lm)
    backend = HFBackend(lm, batch_size=4)
    prompts = _conversation_prompts(lm, turns=(7, 8))
    assert min(backend.n_tokens(p) for p in prompts) >= 256  # the backend's default sharing threshold
    route = [0, 1, 2, -1]
    with backend.routing(deltas):
        answers = backend.generate(prompts, [6] * 4, route=route)
    for p, d, a in zip(prompts, route, answers, strict=True):
        with applied(lm, deltas[d] if d >= 0 else None):
            assert generate(lm, [p], max_new_tokens=6, share_min_tokens=0) == [a]


def test_group_batches_are_bounded_by_the_token_budget(monkeypatch) -> None:
    import importlib

    monkeypatch.setattr(importlib.import_module("prefedit.models.generate"), "MAX_BATCH_TOKENS", 1000)
    base = list(range(300))
    ids = [base + [1000 + i] for i in range(7)]
    groups = _plan_groups(ids, list(range(7)), [None] * 7, [48] * 7)
    assert [len(x.rows) for x in groups] == [2, 2, 2, 1]  # 1000 // (301 + 48) rows each
    assert sorted(i for x in groups for i in x.rows) == list(range(7))
    assert all(k == 300 for x in groups for k in x.keep)
