"""Editors are deterministic under a seed: the same plan and config give bit-identical deltas."""

from __future__ import annotations

import pytest
import torch

from prefedit.editing import get_editor

from test_editors_support import EDITOR_NAMES, fast_config, small_plan


def tensors(delta) -> list[torch.Tensor]:
    out = []
    for u in delta.updates:
        out += [u.up, u.down] if hasattr(u, "up") else [u.diff]
    for p in delta.patches:
        out += [p.keys, p.values, p.radii]
    return out


@pytest.mark.parametrize("family", ["llama", "gpt2"])
@pytest.mark.parametrize("name", EDITOR_NAMES)
def test_compute_is_deterministic_under_a_seed(tiny, name: str, family: str) -> None:
    lm = tiny(family)
    config = fast_config(name, lm)
    plan = small_plan(lm)
    torch.manual_seed(123)  # the editor must not depend on the global RNG state
    a = get_editor(name).compute(lm, plan, config)
    torch.manual_seed(456)
    b = get_editor(name).compute(lm, plan, config)
    assert [u.param for u in a.updates] == [u.param for u in b.updates]
    assert all(torch.equal(x, y) for x, y in zip(tensors(a), tensors(b), strict=True))
