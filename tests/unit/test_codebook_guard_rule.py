"""The codebook's guard rule: an entry also fires on a token nearer to it than ``guard_ratio`` x
the token's distance to the nearest guard key, within ``near_radii``; the rule survives saving,
loading and composition, an incomplete one is refused, and GRACE builds it from the plan's guards."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file, save_file

from prefedit.deltas import Delta, DeltaInfo, compose, load_delta, save_delta
from prefedit.deltas.delta import CodebookPatch, codebook_output
from prefedit.editing import get_editor
from prefedit.errors import DataError, EditError
from prefedit.models import chat_prompt

from test_editors_support import fast_config, small_plan

INFO = DeltaInfo(editor="grace", fingerprint="f")


def _guarded(guard_at: float = 10.0, ratio: float = 0.9, near: float = 3.0) -> CodebookPatch:
    # one entry at the origin (radius 1, guarded reach up to `near`), one guard key on the x axis
    return CodebookPatch("m", torch.zeros(1, 2), torch.full((1, 2), 7.0), torch.ones(1),
                         near_radii=torch.full((1,), near), guard_keys=torch.tensor([[guard_at, 0.0]]), guard_ratio=ratio)


def test_a_token_nearer_to_the_entry_than_to_any_guard_fires_within_the_near_radius() -> None:
    # distances to the entry 0.5, 2, 2.5, 3.5; to the guard (at 4) 3.5, 2, 1.5, 0.5 on the x axis
    x = torch.tensor([[[0.5, 0.0], [-2.0, 0.0], [2.5, 0.0], [-3.5, 0.0]]])
    got = codebook_output(_guarded(guard_at=4.0), x, torch.zeros(1, 4, 2))
    # 0.5: inside the radius; -2 (6 from the guard): nearer than 0.9 x 6; 2.5: the guard is nearer;
    # -3.5 (7.5 from the guard): beyond the near radius 3
    assert got[0, :, 0].tolist() == [7.0, 7.0, 0.0, 0.0]
    plain = CodebookPatch("m", torch.zeros(1, 2), torch.full((1, 2), 7.0), torch.ones(1))
    assert codebook_output(plain, x, torch.zeros(1, 4, 2))[0, :, 0].tolist() == [7.0, 0.0, 0.0, 0.0]


def test_the_ratio_decides_at_the_margin() -> None:
    x = torch.tensor([[[-2.0, 0.0]]])  # 2 from the entry, 6 from the guard
    assert codebook_output(_guarded(guard_at=4.0, ratio=0.34), x, torch.zeros(1, 1, 2)).abs().sum() > 0  # 2 < 2.04
    assert codebook_output(_guarded(guard_at=4.0, ratio=0.33), x, torch.zeros(1, 1, 2)).abs().sum() == 0  # 2 > 1.98


def test_an_incomplete_guard_rule_is_refused() -> None:
    with pytest.raises(EditError, match="guard rule"):
        CodebookPatch("m", torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1), guard_ratio=0.9)
    with pytest.raises(EditError, match="guard rule"):
        CodebookPatch("m", torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1), near_radii=torch.ones(1), guard_keys=torch.zeros(1, 2))
    with pytest.raises(EditError, match="guard rule"):  # guard keys of another width than the entries' keys
        CodebookPatch("m", torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1), near_radii=torch.ones(1), guard_keys=torch.zeros(1, 3), guard_ratio=0.9)


def test_the_guard_rule_survives_save_and_load_and_a_damaged_file_is_refused(tmp_path) -> None:
    path = save_delta(Delta(info=INFO, patches=[_guarded()]), tmp_path / "d.safetensors")
    back = load_delta(path).patches[0]
    assert back.guard_ratio == pytest.approx(0.9)
    assert back.near_radii.tolist() == [3.0] and back.guard_keys.tolist() == [[10.0, 0.0]]
    tensors = load_file(str(path))
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    del tensors["p0.guard_keys"]
    save_file(tensors, str(tmp_path / "bad.safetensors"), metadata=meta)
    with pytest.raises(DataError, match="incomplete guard rule"):
        load_delta(tmp_path / "bad.safetensors")


def test_composition_keeps_one_copy_of_shared_guard_keys_and_apart_from_unguarded_entries() -> None:
    a, b = _guarded(), _guarded(near=2.0)
    merged = compose([Delta(info=INFO, patches=[a]), Delta(info=INFO, patches=[b])]).patches
    assert len(merged) == 1 and merged[0].near_radii.tolist() == [3.0, 2.0] and merged[0].guard_keys.shape == (1, 2)
    other = _guarded(guard_at=-10.0)
    assert compose([Delta(info=INFO, patches=[a]), Delta(info=INFO, patches=[other])]).patches[0].guard_keys.shape == (2, 2)
    plain = CodebookPatch("m", torch.ones(1, 2), torch.ones(1, 2), torch.ones(1))
    both = compose([Delta(info=INFO, patches=[a]), Delta(info=INFO, patches=[plain])]).patches
    assert sorted(p.guard_ratio for p in both) == [0.0, 0.9]  # a plain entry never gains the rule


def test_grace_builds_the_rule_from_the_plan_guards_and_only_with_them(tiny) -> None:
    from prefedit.editing.grace.compute_codebook import guard_keys

    lm = tiny("llama")
    plan = small_plan(lm, 2)
    guards = tuple(chat_prompt(lm.tokenizer, q) for q in ("What is my hobbyy?", "Where do I live now?", "Tell me about the sea."))
    config = replace(fast_config("grace", lm, steps=30, radius=0.05), guard_cap=False, widen=1.4, guard_ratio=0.9)
    patch = get_editor("grace").compute(lm, replace(plan, guard_prompts=guards), config).patches[0]
    assert patch.guarded and patch.guard_ratio == pytest.approx(0.9)
    assert torch.allclose(patch.near_radii, 1.4 * patch.radii)
    assert patch.guard_keys.dtype == torch.float16 and torch.equal(patch.guard_keys, guard_keys(lm, patch.module, guards).half())
    assert not get_editor("grace").compute(lm, plan, config).patches[0].guarded
