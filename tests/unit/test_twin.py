"""The compute twin: a cast copy for editors' value search, never for a model carrying edits."""

from __future__ import annotations

import pytest
import torch

from prefedit.deltas import applied
from prefedit.editing import get_editor
from prefedit.errors import ConfigError
from prefedit.models.twin import compute_twin, resolve_compute_dtype

from test_editors_support import fast_config, logits, small_plan, snapshot


def test_resolve_names_and_refuses_unknown() -> None:
    cpu = torch.device("cpu")
    assert resolve_compute_dtype("model", cpu, torch.float32) is torch.float32
    assert resolve_compute_dtype("bfloat16", cpu, torch.float32) is torch.bfloat16
    assert resolve_compute_dtype("auto", cpu, torch.float32) in (torch.float32, torch.bfloat16)
    with pytest.raises(ConfigError, match="compute_dtype must be one of model, auto, float32, bfloat16, float16, got 'int8'"):
        resolve_compute_dtype("int8", cpu, torch.float32)
    from prefedit.editing.grace.config import GraceConfig

    with pytest.raises(ConfigError, match="compute_dtype must be one of"):
        GraceConfig(compute_dtype="half")


def test_twin_holds_the_cast_weights_and_is_cached_until_they_change(tiny) -> None:
    lm = tiny("llama")
    assert compute_twin(lm, lm.dtype) is lm
    twin = compute_twin(lm, torch.bfloat16)
    assert twin is not lm and twin.dtype == torch.bfloat16 and twin.fingerprint == lm.fingerprint
    base = dict(lm.model.named_parameters())
    for name, p in twin.model.named_parameters():
        assert torch.equal(p, base[name].detach().to(torch.bfloat16)) and not p.requires_grad
    tied = lm.model.get_output_embeddings().weight is lm.model.get_input_embeddings().weight
    assert (twin.model.get_output_embeddings().weight is twin.model.get_input_embeddings().weight) == tied
    assert compute_twin(lm, torch.bfloat16) is twin  # cached
    p = next(lm.model.parameters())
    with torch.no_grad():
        p.add_(1.0)
    try:
        fresh = compute_twin(lm, torch.bfloat16)
        assert fresh is not twin and torch.equal(next(fresh.model.parameters()), p.detach().to(torch.bfloat16))
    finally:
        with torch.no_grad():
            p.sub_(1.0)


def test_no_twin_while_a_delta_or_a_hook_is_on_the_model(tiny) -> None:
    lm = tiny("llama")
    delta = get_editor("grace").compute(lm, small_plan(lm, 1), fast_config("grace", lm))
    with applied(lm, delta):
        assert compute_twin(lm, torch.bfloat16) is lm  # the copy would not see the applied edit
    handle = lm.model.get_input_embeddings().register_forward_hook(lambda *_: None)
    try:
        assert compute_twin(lm, torch.bfloat16) is lm
    finally:
        handle.remove()


def test_grace_searched_in_bfloat16_is_recalled_by_the_float32_model_which_it_leaves_as_is(tiny) -> None:
    lm = tiny("llama")
    plan = small_plan(lm, 1)
    lm._compute_twin = None
    before = snapshot(lm)
    cfg = fast_config("grace", lm, steps=60, radius=0.05, compute_dtype="bfloat16")
    delta = get_editor("grace").compute(lm, plan, cfg)
    after = snapshot(lm)
    assert after["hooks"] == before["hooks"] and after["grad"] == before["grad"]
    assert all(torch.equal(after["weights"][k], v) for k, v in before["weights"].items())
    assert lm._compute_twin[0] is torch.bfloat16  # the search ran on the cast copy
    patch = delta.patches[0]
    assert patch.keys.dtype == torch.float32 and patch.values.dtype == torch.float32
    target_id = lm.tokenizer(plan.requests[0].target, add_special_tokens=False).input_ids[0]
    with applied(lm, delta):
        assert int(logits(lm, plan.requests[0].prompt)[-1].argmax()) == target_id
