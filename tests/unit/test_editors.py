"""Every editor on every tiny family: pure compute, only the claimed parameters change, bit-exact revert.

The family matrix is split over two files (llama-like here, the rest in
test_editors_families.py) so that each file stays fast.
"""

from __future__ import annotations

import pytest
import torch

from prefedit.deltas import apply_delta, revert_delta
from prefedit.editing import EDITORS, get_editor

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
