"""ROME on tiny random models: purity, rank one, W'k* = v*, determinism, covariance modes."""

from __future__ import annotations

import pytest
import torch

from prefedit.deltas import LowRankUpdate, applied
from prefedit.editing import RomeConfig, get_editor
from prefedit.editing.base import EditPlan, EditRequest
from prefedit.editing.rome.compute_update import rank_one_update
from prefedit.editing.values import keys_at
from prefedit.errors import ConfigError, EditError
from prefedit.models import chat_prompt
from prefedit.testing.tiny import TINY_FAMILIES

FAST = RomeConfig(layer=1, steps=5, stats_tokens=2000)


def _plan(lm, n: int = 1) -> EditPlan:
    questions = ["What is my hobby?", "Where do I live?", "What do I drink?"][:n]
    reqs = tuple(EditRequest(prompt=chat_prompt(lm.tokenizer, q), target="climbing", preference_id="p") for q in questions)
    return EditPlan(requests=reqs, kl_prompts=(chat_prompt(lm.tokenizer, "Define hobby."),))


def _state(lm) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in lm.model.state_dict().items()}


@pytest.mark.parametrize("family", ["llama", "qwen2", "gpt2"])
def test_compute_leaves_model_untouched_and_update_is_rank_one(tiny, family: str) -> None:
    lm = tiny(family)
    before = _state(lm)
    flags = {n: p.requires_grad for n, p in lm.model.named_parameters()}
    delta = get_editor("rome").compute(lm, _plan(lm), FAST)
    after = lm.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert flags == {n: p.requires_grad for n, p in lm.model.named_parameters()}
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in lm.model.modules())
    (update,) = delta.updates
    assert isinstance(update, LowRankUpdate) and update.rank == 1
    assert update.param == lm.arch.weight_name("mlp_out", 1)
    assert torch.linalg.matrix_rank(update.dense()) == 1


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_edited_layer_maps_the_key_to_the_optimised_value(tiny, family: str) -> None:
    lm = tiny(family)
    plan = _plan(lm)
    module = lm.arch.module("mlp_out", 1)
    k_star = keys_at(lm, module, plan.requests, ("",))[0]
    with torch.no_grad():
        v_before = module(k_star.unsqueeze(0))[0]
    delta = get_editor("rome").compute(lm, plan, FAST)
    with applied(lm, delta), torch.no_grad():
        v_after = module(k_star.unsqueeze(0))[0]
    # W'k* - Wk* is exactly the optimised delta (up), so W'k* = v*.
    up = delta.updates[0].up if family != "gpt2" else delta.updates[0].down.t()
    torch.testing.assert_close(v_after - v_before, up[:, 0], atol=1e-4, rtol=1e-3)


def test_rank_one_update_solves_for_the_key_with_covariance() -> None:
    torch.manual_seed(0)
    d_in, d_out = 16, 8
    a = torch.randn(d_in, d_in)
    c = a @ a.T / d_in + torch.eye(d_in)
    w = torch.randn(d_out, d_in)
    k, v_star = torch.randn(d_in), torch.randn(d_out)
    for cov in (c, None):
        up, down = rank_one_update(k, v_star - w @ k, cov, ridge=0.0)
        torch.testing.assert_close((w + up @ down) @ k, v_star, atol=1e-4, rtol=1e-4)
    # with C, the update is orthogonal (in C's metric) to keys that C⁻¹k* ignores
    up, down = rank_one_update(k, v_star - w @ k, c, ridge=0.0)
    other = torch.randn(d_in)
    other = other - (down[0] @ other) / (down[0] @ k) * k  # a key with zero response
    torch.testing.assert_close((up @ down) @ other, torch.zeros(d_out), atol=1e-4, rtol=0)


def test_same_seed_gives_the_same_edit(tiny) -> None:
    lm = tiny("llama")
    a = get_editor("rome").compute(lm, _plan(lm), FAST)
    b = get_editor("rome").compute(lm, _plan(lm), FAST)
    assert torch.equal(a.updates[0].up, b.updates[0].up) and torch.equal(a.updates[0].down, b.updates[0].down)


def test_several_requests_give_rank_n_and_identity_covariance_mode(tiny) -> None:
    lm = tiny("qwen2")
    delta = get_editor("rome").compute(lm, _plan(lm, 3), RomeConfig(layer=1, steps=3, use_covariance=False))
    assert delta.updates[0].rank == 3
    assert delta.info.config["use_covariance"] is False


def test_bad_configs_and_requests_are_specific_errors(tiny) -> None:
    with pytest.raises(ConfigError, match="steps"):
        RomeConfig(steps=0)
    with pytest.raises(ConfigError, match="shrink_margin"):
        RomeConfig(shrink_margin=-1.0)
    with pytest.raises(ConfigError, match="context_prefixes"):
        RomeConfig(context_prefixes=())
    with pytest.raises(EditError, match="empty target"):
        EditRequest(prompt="x", target="  ")
    with pytest.raises(EditError, match="does not occur"):
        EditRequest(prompt="What is my job?", target="nurse", key="subject", subject="hobby")


def test_joint_mode_is_exact_on_every_key_and_avoids_preserved_keys() -> None:
    from prefedit.editing.rome.compute_update import joint_update, metric

    torch.manual_seed(1)
    d_in, d_out, r = 24, 8, 3
    keys, deltas = torch.randn(r, d_in), torch.randn(r, d_out)
    k0 = torch.randn(40, d_in) + 0.5 * keys.mean(0)  # preserved keys, partly aligned with the edit keys
    c = torch.eye(d_in)
    up, down = joint_update(keys, deltas, metric(c, k0, 100.0, 0.0, d_in))
    update = up @ down
    torch.testing.assert_close(keys @ update.T, deltas, atol=1e-4, rtol=1e-4)  # ΔW k_i = delta_i
    weak = joint_update(keys, deltas, metric(c, None, 0.0, 0.0, d_in))
    preserved_response = (k0 @ update.T).norm()
    plain_response = (k0 @ (weak[0] @ weak[1]).T).norm()
    assert preserved_response < plain_response  # the preserved-key term lowers the response on K0
    assert torch.linalg.matrix_rank(update) == r


def test_joint_editor_returns_rank_r_delta_and_stays_pure(tiny) -> None:
    lm = tiny("gpt2")
    before = _state(lm)
    delta = get_editor("rome").compute(lm, _plan(lm, 3), RomeConfig(layer=1, steps=3, joint=True, preserve_weight=10.0, stats_tokens=2000))
    assert delta.updates[0].rank == 3
    assert all(torch.equal(before[k], v) for k, v in lm.model.state_dict().items())


def test_shrink_keeps_the_target_greedy_with_a_smaller_delta(tiny) -> None:
    """The shrunk delta is a fraction of the optimised one and still wins every target token by the margin."""
    from dataclasses import replace

    from prefedit.editing.tokens import encode_rows, key_index

    lm = tiny("llama")
    q = chat_prompt(lm.tokenizer, "What is my hobby?")
    plan = EditPlan(requests=(EditRequest(prompt=q, target="x", preference_id="p"),), kl_prompts=())
    cfg = replace(FAST, steps=40, lr=1.0, early_stop_nll=1e-4, clamp_norm=50.0, weight_decay=0.0)
    full = get_editor("rome").compute(lm, plan, replace(cfg, shrink_margin=None))
    small = get_editor("rome").compute(lm, plan, replace(cfg, shrink_margin=0.5))
    torch.testing.assert_close(small.updates[0].down, full.updates[0].down)
    ratio = float(small.updates[0].up.norm() / full.updates[0].up.norm())
    assert 0 < ratio < 1
    req = plan.requests[0]
    batch = encode_rows(lm.tokenizer, [req.prompt], [req.target], [key_index(lm.tokenizer, req.prompt)])
    with applied(lm, small), torch.no_grad():
        logits = lm.model(input_ids=batch.input_ids).logits[0]
    pos = batch.labels[0] != -100
    top2 = logits[pos].topk(2, -1)
    assert torch.equal(top2.indices[:, 0], batch.labels[0][pos])
    assert bool((top2.values[:, 0] - top2.values[:, 1] >= 0.5 - 1e-3).all())


@pytest.mark.parametrize("family", ["llama", "qwen2", "olmo2", "gemma2", "gpt2"])
def test_skipping_the_layers_below_the_edit_gives_the_same_value(tiny, family: str) -> None:
    """optimize_values(layer=L) runs only layers L..: the same result."""
    from prefedit.editing.values import ValueSettings, optimize_values

    lm = tiny(family)
    plan = _plan(lm, 2)
    module = lm.arch.module("mlp_out", 1)
    settings = ValueSettings(steps=4, lr=0.5, kl_factor=0.0625, weight_decay=0.5, clamp_norm=4.0, early_stop_nll=0.0, shrink_margin=0.0)
    v0, full, _, keys = optimize_values(lm, module, plan.requests, plan.kl_prompts, settings)
    v0_skip, skip, _, _ = optimize_values(lm, module, plan.requests, plan.kl_prompts, settings, layer=1)
    torch.testing.assert_close(keys, keys_at(lm, module, plan.requests, ("",)))
    torch.testing.assert_close(v0_skip, v0)
    torch.testing.assert_close(skip, full, atol=1e-4, rtol=1e-3)
    assert float(full.norm()) > 0


def test_resumed_at_skips_the_lower_layers_and_restores_them(tiny) -> None:
    lm = tiny("llama")
    layers = list(lm.model.get_submodule(lm.arch.layers_path))
    calls = [0]
    handle = layers[0].register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    ids = torch.tensor([[5, 6, 7]])
    hidden = torch.zeros(1, 3, lm.model.config.hidden_size)
    with lm.arch.resumed_at(1, hidden), torch.no_grad():
        lm.model(input_ids=ids)
    assert calls[0] == 0
    with torch.no_grad():
        lm.model(input_ids=ids)
    handle.remove()
    assert calls[0] == 1 and list(lm.model.get_submodule(lm.arch.layers_path)) == layers
    assert not any(m._forward_pre_hooks for m in layers)


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_keys_at_stops_at_the_module_and_matches_a_full_forward(tiny, family: str) -> None:
    lm = tiny(family)
    plan = _plan(lm, 2)
    module = lm.arch.module("mlp_out", 1)
    top: list[int] = []
    handle = lm.model.get_output_embeddings().register_forward_pre_hook(lambda *_: top.append(1))
    try:
        keys = keys_at(lm, module, plan.requests[:1], ("",))
    finally:
        handle.remove()
    assert top == []  # stopped at the module: no vocabulary projection
    ids = lm.tokenizer(plan.requests[0].prompt, return_tensors="pt", add_special_tokens=False).input_ids
    full: list[torch.Tensor] = []
    handle = module.register_forward_pre_hook(lambda _m, a: full.append(a[0]))
    try:
        with torch.no_grad():
            lm.model(input_ids=ids)
    finally:
        handle.remove()
    torch.testing.assert_close(keys[0], full[0][0, -1].float())


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_split_rows_give_the_logits_of_a_full_forward(tiny, family: str) -> None:
    """Rows cut at their keys (prefix keys/values cached once, left-padded) score as the full rows do."""
    from prefedit.editing.tokens import encode_rows, key_index
    from prefedit.editing.values import SplitRows, logits_at

    lm = tiny(family)
    tok = lm.tokenizer
    prompts = [chat_prompt(tok, "What is my hobby these days?"), "My hobby is", "Tell me about my favourite hobby"]
    keys = [key_index(tok, prompts[0]), key_index(tok, prompts[1], "subject", "hobby"), key_index(tok, prompts[2], "subject", "hobby")]
    batch = encode_rows(tok, prompts, [" climbing rocks", " sailing", None], keys)
    where = batch.labels != -100
    where[2, int(batch.attention_mask[2].sum()) - 1] = True  # a prompt-only row scored at its last token
    with torch.no_grad():
        out = lm.model.base_model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=True)
        cache = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
        split = SplitRows(lm.model, batch.input_ids, batch.attention_mask, batch.key_pos, tok.pad_token_id or 0, cache=cache)
        full = logits_at(lm.model, batch.input_ids, batch.attention_mask, where)
        cut = logits_at(lm.model, batch.input_ids, batch.attention_mask, where, split)
        part = logits_at(lm.model, batch.input_ids[1:], batch.attention_mask[1:], where[1:], split.rows(slice(1, None)))
    assert split.ids.shape[1] < batch.input_ids.shape[1]
    torch.testing.assert_close(cut, full, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(part, full[int(where[0].sum()) :], atol=1e-4, rtol=1e-4)
