"""The editor x family matrix, second half (olmo2, gemma2, and the GPT-2 / GPT-J layouts)."""

from __future__ import annotations

import pytest

from test_editors_support import EDITOR_NAMES, check_pure_and_claimed


@pytest.mark.parametrize("family", ["olmo2", "gemma2", "gpt2", "gptj"])
@pytest.mark.parametrize("name", EDITOR_NAMES)
def test_compute_is_pure_and_changes_only_what_it_claims_other_families(tiny, name: str, family: str) -> None:
    check_pure_and_claimed(tiny(family), name)
