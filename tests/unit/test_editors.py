"""Every editor on every tiny family: pure compute, only the claimed parameters change, bit-exact revert.

The family matrix is split over two files (llama-like here, the rest in
test_editors_families.py) so that each file stays fast.
"""

from __future__ import annotations

import pytest
import torch

from prefedit.deltas import apply_delta, revert_delta
from prefedit.editing import EDITORS, get_editor
from prefedit.models import chat_prompt

from test_editors_support import EDITOR_NAMES, assert_same_state, check_pure_and_claimed, claimed_params, fast_config, logits, small_plan, snapshot


def test_every_editor_is_registered() -> None:
    assert set(EDITOR_NAMES) <= set(EDITORS.names())
    for name in EDITOR_NAMES:
        ed = get_editor(name)
        assert ed.name == name


@pytest.mark.parametrize("family", ["llama", "mistral", "qwen2", "qwen3"])
@pytest.mark.parametrize("name", EDITOR_NAMES)
def test_compute_is_pure_and_changes_only_what_it_claims(tiny, name: str, family: str) -> None:
    check_pure_and_claimed(tiny(family), name)


def test_module_inputs_equal_the_inputs_of_a_full_forward(tiny) -> None:
    from prefedit.editing.hooks import module_inputs

    lm = tiny("llama")
    module = lm.arch.module("mlp_out", 1)
    text = chat_prompt(lm.tokenizer, "Where do I live?")
    seen = []
    handle = module.register_forward_pre_hook(lambda _m, a: seen.append(a[0][0].detach().clone()))
    try:
        with torch.no_grad():
            logits = lm.model(input_ids=lm.tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids).logits
    finally:
        handle.remove()
    got = module_inputs(lm, module, text)
    assert got.shape == seen[0].shape and torch.equal(got, seen[0])
    assert logits.shape[1] == got.shape[0]  # one row per token
