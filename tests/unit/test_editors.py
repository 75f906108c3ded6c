"""Every editor on every tiny family: pure compute, only the claimed parameters change, bit-exact revert.

The family matrix is split over two files (llama-like here, the rest in
test_editors_families.py) so that each file stays fast.
"""

from __future__ import annotations

import pytest
import torch

from prefedit.deltas import apply_delta, revert_delta
from prefedit.editing import EDITORS, get_editor

from test_editors_support import EDITOR_NAMES, assert_same_state, claimed_params, fast_config, logits, small_plan, snapshot


def test_every_editor_is_registered() -> None:
    assert set(EDITOR_NAMES) <= set(EDITORS.names())
    for name in EDITOR_NAMES:
        ed = get_editor(name)
        assert ed.name == name


@pytest.mark.parametrize("family", ["llama", "mistral", "qwen2", "qwen3"])
@pytest.mark.parametrize("name", EDITOR_NAMES)
def test_compute_is_pure_and_changes_only_what_it_claims(tiny, name: str, family: str) -> None:
    lm = tiny(family)
    config = fast_config(name, lm)
    plan = small_plan(lm)
    before = snapshot(lm)
    delta = get_editor(name).compute(lm, plan, config)
    assert_same_state(before, snapshot(lm))  # compute left weights, hooks, flags alone

    assert delta.info.editor == name and delta.info.fingerprint == lm.fingerprint
    assert delta.info.preference_ids == plan.preference_ids
    assert delta.info.config["type"] == name
    assert set(delta.params) == claimed_params(name, lm, config)
    if name == "grace":
        assert delta.kind == "codebook" and delta.patches[0].module == lm.arch.path("mlp_out", config.layer_index(lm))
    else:
        assert delta.kind == ("dense" if name.startswith("ft") else "low-rank")

    prompt = plan.requests[0].prompt
    base = logits(lm, prompt)
    apply_delta(lm, delta)
    try:
        changed = {n for n, p in lm.model.state_dict().items() if not torch.equal(p, before["weights"][n])}
        assert changed == claimed_params(name, lm, config)
        assert not torch.equal(logits(lm, prompt), base)  # the edit does something on its prompt
    finally:
        revert_delta(lm, delta)
    assert_same_state(before, snapshot(lm))  # revert is bit-exact, hooks removed
