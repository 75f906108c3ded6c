"""Routed deltas: each row of one batched pass computed as if only its own delta were applied."""

from __future__ import annotations

import pytest
import torch

from prefedit.bench.backends import HFBackend
from prefedit.deltas import Delta, DeltaInfo, DenseUpdate, applied
from prefedit.deltas.routed import Routed, routable
from prefedit.editing import get_editor
from prefedit.models import chat_prompt

from test_editors_support import fast_config, small_plan


def _deltas(lm) -> list[Delta]:
    plan = small_plan(lm, 1)
    # ROME (low rank), FT-M (dense), GRACE (codebook patch, radius wide enough to fire on the plan's prompt)
    return [get_editor(n).compute(lm, plan, fast_config(n, lm, **({"radius": 0.5} if n == "grace" else {}))) for n in ("rome", "ft-m", "grace")]


def _batch(lm, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    lm.tokenizer.padding_side = "left"
    enc = lm.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    return enc.input_ids, enc.attention_mask


def test_each_row_sees_only_its_own_delta(tiny) -> None:
    lm = tiny("llama")
    deltas = _deltas(lm)
    prompts = [small_plan(lm, 1).requests[0].prompt, chat_prompt(lm.tokenizer, "Tell me about the sea.")]
    route = [0, 1, 2, -1, 2, 0]
    rows = [prompts[i % 2] for i in range(len(route))]
    ids, mask = _batch(lm, rows)
    with torch.no_grad(), Routed(lm, [*deltas]) as routed:
        routed.rows(route)
        got = lm.model(input_ids=ids, attention_mask=mask).logits
    for r, d in enumerate(route):
        with torch.no_grad(), applied(lm, deltas[d] if d >= 0 else None):
            want = lm.model(input_ids=ids[r : r + 1], attention_mask=mask[r : r + 1]).logits
        torch.testing.assert_close(got[r : r + 1], want, atol=2e-5, rtol=1e-4)


def test_backend_routes_generation_and_scoring_like_applied_deltas(tiny) -> None:
    lm = tiny("llama")
    deltas = _deltas(lm)
    backend = HFBackend(lm, batch_size=4)
    prompt = small_plan(lm, 1).requests[0].prompt
    prompts = [prompt, chat_prompt(lm.tokenizer, "Name a colour."), prompt, prompt]
    route = [0, 1, 2, -1]
    with backend.routing(deltas):
        answers = backend.generate(prompts, [6] * 4, route=route)
        scored = backend.loglikelihood([(p, " the sea") for p in prompts], route=route)
    for p, d, a, s in zip(prompts, route, answers, scored, strict=True):
        with applied(lm, deltas[d] if d >= 0 else None):
            assert backend.generate([p], [6]) == [a]
            (lp, greedy), = backend.loglikelihood([(p, " the sea")])
        assert greedy == s[1] and lp == pytest.approx(s[0], abs=1e-3)


def test_deltas_outside_linear_weights_are_not_routable(tiny) -> None:
    lm = tiny("llama")
    emb = lm.arch.layers_path.rsplit(".", 1)[0] + ".embed_tokens.weight"
    table = dict(lm.model.named_parameters())
    delta = Delta(info=DeltaInfo(editor="x", fingerprint=lm.fingerprint), updates=[DenseUpdate(emb, torch.zeros_like(table[emb]))])
    assert not routable(lm, delta) and routable(lm, None) and all(routable(lm, d) for d in _deltas(lm))
    with pytest.raises(ValueError, match="nn.Linear"):
        Routed(lm, [delta])
