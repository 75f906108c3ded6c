"""MEMIT and AlphaEdit maths on tiny models: the update is the least-squares solve; P K0 ≈ 0."""

from __future__ import annotations

import pytest
import torch

from prefedit.deltas import apply_delta, applied, revert_delta
from prefedit.editing import AlphaEditState, get_editor
from prefedit.editing.alphaedit.compute_projection import null_space_projector, projectors
from prefedit.editing.alphaedit.compute_update import projected_update
from prefedit.editing.memit.compute_targets import outputs_at, residual_targets
from prefedit.editing.memit.compute_update import least_squares_update
from prefedit.editing.stats import corpus_texts, key_second_moment
from prefedit.editing.values import keys_at

from test_editors_support import fast_config, small_plan


def direct_solve(keys: torch.Tensor, resid: torch.Tensor, cov: torch.Tensor, lam: float) -> torch.Tensor:
    """argmin_Δ ||Δ K - R||² + λ tr(Δ C Δᵀ) by lstsq on the stacked system Δ [K, √λ L] = [R, 0], C = L Lᵀ."""
    k, r = keys.double().T, resid.double().T
    chol = torch.linalg.cholesky(cov.double())
    x = torch.cat([k, lam**0.5 * chol], 1)
    y = torch.cat([r, torch.zeros(r.shape[0], chol.shape[1], dtype=r.dtype)], 1)
    return torch.linalg.lstsq(x.T, y.T).solution.T


def test_least_squares_update_matches_lstsq() -> None:
    g = torch.Generator().manual_seed(0)
    keys, resid = torch.randn(3, 16, generator=g), torch.randn(3, 8, generator=g)
    a = torch.randn(16, 40, generator=g)
    cov = a @ a.T / 40
    up, down = least_squares_update(keys, resid, cov, 2.0)
    assert up.shape == (8, 3) and down.shape == (3, 16)  # rank <= number of requests
    torch.testing.assert_close((up @ down).double(), direct_solve(keys, resid, cov, 2.0), rtol=1e-4, atol=1e-5)


def test_memit_update_equals_direct_least_squares_on_tiny_model(tiny) -> None:
    lm = tiny("llama")
    config = fast_config("memit", lm, layers=(0, 1), mom2_weight=0.05)
    lam = 0.05 * lm.arch.weight_out_in("mlp_out", 0).shape[1]  # λ = mom2_weight · d_in
    plan = small_plan(lm)
    delta = get_editor("memit").compute(lm, plan, config)
    covs = key_second_moment(lm, [0, 1], n_tokens=config.stats_tokens)
    z, _ = residual_targets(lm, 1, plan.requests, plan.kl_prompts, config)
    last = lm.arch.module("block_out", 1)
    got = {u.param: u.dense() for u in delta.updates}
    applied_first = None
    for i, layer in enumerate([0, 1]):  # Algorithm 1: keys and residual read after earlier layers' updates
        keys = keys_at(lm, lm.arch.module("mlp_out", layer), plan.requests, ("",))
        resid = (z - outputs_at(lm, last, plan.requests, ("",))) / (2 - i)
        want = direct_solve(keys, resid, covs[layer], lam).float()
        torch.testing.assert_close(got[lm.arch.weight_name("mlp_out", layer)], want, rtol=1e-3, atol=1e-5)
        if i == 0:
            applied_first = delta.__class__(info=delta.info, updates=[u for u in delta.updates if u.param.endswith("layers.0.mlp.down_proj.weight")])
            apply_delta(lm, applied_first)
    revert_delta(lm, applied_first)


def test_memit_single_layer_writes_the_target_residual(tiny) -> None:
    lm = tiny("qwen2")
    config = fast_config("memit", lm, layers=(1, 1), mom2_weight=1e-6)
    plan = small_plan(lm)
    delta = get_editor("memit").compute(lm, plan, config)
    z, _ = residual_targets(lm, 1, plan.requests, plan.kl_prompts, config)
    with applied(lm, delta):
        h = outputs_at(lm, lm.arch.module("block_out", 1), plan.requests, ("",))
    torch.testing.assert_close(h, z, rtol=1e-3, atol=1e-3)


def corpus_keys(lm, layer: int, n_texts: int = 8) -> torch.Tensor:
    """Keys K0 of the preserved corpus, captured directly: ``[n_tokens, d_in]``."""
    captured: list[torch.Tensor] = []
    handle = lm.arch.module("mlp_out", layer).register_forward_pre_hook(lambda _m, a: captured.append(a[0][0].detach()))
    try:
        with torch.no_grad():
            for text in corpus_texts(lm)[:n_texts]:
                ids = lm.tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids[:, :256]
                lm.model(ids)
    finally:
        handle.remove()
    return torch.cat(captured)


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_alphaedit_projection_annihilates_preserved_keys(tiny, family: str) -> None:
    lm = tiny(family)
    energy = 1e-2
    proj, _scale = projectors(lm, [1], corpus="chat-v1", n_tokens=2000, energy=energy)[1]
    cov = key_second_moment(lm, [1], n_tokens=2000)[1]
    torch.testing.assert_close(proj @ proj, proj, atol=1e-4, rtol=0)  # a projector
    assert 0 < float(proj.trace()) < proj.shape[0]
    assert float(torch.trace(proj @ cov @ proj) / torch.trace(cov)) <= energy + 1e-6  # E||P k0||² <= energy E||k0||²
    k0 = corpus_keys(lm, 1)
    assert float((k0 @ proj).norm() / k0.norm()) < 0.15  # P K0 ≈ 0 on the corpus keys themselves


def test_projected_update_lies_in_the_null_space() -> None:
    g = torch.Generator().manual_seed(1)
    a = torch.randn(16, 12, generator=g)  # preserved keys span 12 of 16 dims
    proj = null_space_projector(a @ a.T / 12, 1e-3)
    keys, resid = torch.randn(2, 16, generator=g), torch.randn(2, 8, generator=g)
    up, down = projected_update(keys, resid, proj, None, 1e-2)
    delta = up @ down
    assert float((delta @ a).norm() / delta.norm()) < 1e-4  # Δ K0 = 0
    torch.testing.assert_close(delta @ proj, delta, atol=1e-5, rtol=1e-4)


def test_alphaedit_sequential_state_protects_earlier_keys(tiny) -> None:
    lm = tiny("llama")
    ed = get_editor("alphaedit")
    config = fast_config("alphaedit", lm, layers=(1, 1))
    first, second = small_plan(lm, 1), small_plan(lm, 3)
    second = second.__class__(requests=second.requests[1:], kl_prompts=second.kl_prompts)
    d1, state = ed.compute_with_state(lm, first, config, AlphaEditState())
    assert state.edits == 1 and set(state.kkt) == {1}
    with applied(lm, d1):
        d2, state2 = ed.compute_with_state(lm, second, config, state)
        d2_blind = ed.compute(lm, second, config)
    assert state2.edits == 2 and d2.info.extra["prior_edits"] == 1
    k1 = state.kkt[1]  # Σ k kᵀ of the first edit's keys
    disturb = lambda d: float(torch.trace(d.updates[0].dense() @ k1 @ d.updates[0].dense().T))  # noqa: E731
    assert disturb(d2) < 0.5 * disturb(d2_blind)  # measured about 0.18 on this model
