"""Deltas of all three kinds: save/load in one safetensors file, fp16 storage, compose, bit-exact revert."""

from __future__ import annotations

import pytest
import torch

from prefedit.deltas import (
    CodebookPatch,
    Delta,
    DeltaInfo,
    DenseUpdate,
    LowRankUpdate,
    applied,
    apply_delta,
    compose,
    load_delta,
    read_description,
    revert_delta,
    save_delta,
)
from prefedit.editing import get_editor
from prefedit.errors import DeltaMismatchError, EditError

from test_editors_support import assert_same_state, fast_config, logits, small_plan, snapshot


@pytest.fixture(scope="module")
def three_kinds(tiny) -> tuple[Delta, Delta, Delta]:
    """A low-rank (MEMIT), a dense (FT-M) and a codebook (GRACE) delta of the tiny llama."""
    lm = tiny("llama")
    plan = small_plan(lm)
    return tuple(get_editor(n).compute(lm, plan, fast_config(n, lm)) for n in ("memit", "ft-m", "grace"))  # type: ignore[return-value]


def all_tensors(delta: Delta) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []
    for u in delta.updates:
        out += [u.up, u.down] if isinstance(u, LowRankUpdate) else [u.diff]
    for p in delta.patches:
        out += [p.keys, p.values, p.radii]
    return out


def test_save_load_round_trips_every_kind_with_its_description(three_kinds, tmp_path) -> None:
    delta = compose(list(three_kinds))
    path = save_delta(delta, tmp_path / "d.safetensors")
    desc = read_description(path)
    assert desc["kind"] == "mixed" and desc["storage_dtype"] == "float32"
    info = desc["info"]
    assert info["editor"] == "ft-m+grace+memit" and info["fingerprint"] == delta.info.fingerprint
    assert info["preference_ids"] == ["hobby", "home"] * 3 and info["dtype"] == "float32"
    assert [c["type"] for c in info["config"]["composed"]] == ["memit", "ft-m", "grace"]
    back = load_delta(path)
    assert back.kind == "mixed" and [u.param for u in back.updates] == [u.param for u in delta.updates]
    assert all(torch.equal(a, b) for a, b in zip(all_tensors(delta), all_tensors(back), strict=True))


@pytest.mark.parametrize("kind", [0, 1, 2])
def test_fp16_storage_leaves_results_unchanged(tiny, three_kinds, tmp_path, kind: int) -> None:
    lm = tiny("llama")
    delta = three_kinds[kind]
    full = save_delta(delta, tmp_path / "f32.safetensors")
    half = save_delta(delta, tmp_path / "f16.safetensors", storage="float16")
    assert half.stat().st_size < 0.6 * full.stat().st_size + 2048
    prompts = [r.prompt for r in small_plan(lm).requests]
    with applied(lm, delta):
        want = [logits(lm, p) for p in prompts]
    with applied(lm, load_delta(half)):
        got = [logits(lm, p) for p in prompts]
    for w, g in zip(want, got, strict=True):
        assert torch.equal(w.argmax(-1), g.argmax(-1))  # same greedy tokens everywhere
        assert float((w - g).abs().max()) < 1e-2


def test_revert_restores_weights_bitwise_after_fp16_round_trip(tiny, three_kinds, tmp_path) -> None:
    lm = tiny("llama")
    before = snapshot(lm)
    loaded = [load_delta(save_delta(d, tmp_path / f"{i}.safetensors", storage="float16")) for i, d in enumerate(three_kinds)]
    for d in loaded:
        apply_delta(lm, d)
    with pytest.raises(EditError, match="LIFO"):
        revert_delta(lm, loaded[0])
    for d in reversed(loaded):
        revert_delta(lm, d)
    assert_same_state(before, snapshot(lm))


def test_compose_equals_applying_one_after_another(tiny, three_kinds) -> None:
    lm = tiny("llama")
    prompt = small_plan(lm).requests[1].prompt
    with applied(lm, three_kinds[0]), applied(lm, three_kinds[1]), applied(lm, three_kinds[2]):
        want = logits(lm, prompt)
    both = compose(list(three_kinds))
    assert both.kind == "mixed" and len(both.patches) == 1
    with applied(lm, both):
        torch.testing.assert_close(logits(lm, prompt), want, atol=1e-5, rtol=1e-5)


def test_compose_concatenates_low_rank_factors_and_merges_codebooks() -> None:
    info = DeltaInfo(editor="x", fingerprint="f")
    a = Delta(info=info, updates=[LowRankUpdate("w", torch.ones(4, 1), torch.ones(1, 3))], patches=[CodebookPatch("m", torch.zeros(1, 3), torch.zeros(1, 2), torch.ones(1))])
    b = Delta(info=info, updates=[LowRankUpdate("w", 2 * torch.ones(4, 2), torch.ones(2, 3)), DenseUpdate("v", torch.ones(2, 2))], patches=[CodebookPatch("m", torch.ones(2, 3), torch.ones(2, 2), torch.ones(2))])
    c = compose([a, b])
    low = next(u for u in c.updates if isinstance(u, LowRankUpdate))
    assert low.rank == 3 and torch.equal(low.dense(), a.updates[0].dense() + b.updates[0].dense())
    assert c.patches[0].keys.shape == (3, 3) and c.kind == "mixed"
    with pytest.raises(DeltaMismatchError):
        compose([a, Delta(info=DeltaInfo(editor="x", fingerprint="other"))])


def test_safe_apply_refuses_non_finite_weights_and_changes_nothing(tiny) -> None:
    lm = tiny("gpt2")
    before = snapshot(lm)
    name = lm.arch.weight_name("mlp_out", 0)
    shape = lm.model.get_parameter(name).shape
    bad = Delta(info=DeltaInfo(editor="x", fingerprint=lm.fingerprint), updates=[DenseUpdate(name, torch.full(shape, float("inf")))])
    with pytest.raises(EditError, match="non-finite"):
        apply_delta(lm, bad, safe=True)
    assert_same_state(before, snapshot(lm))


@pytest.mark.parametrize("field", ["radii", "values", "wide_radii"])
def test_a_codebook_file_with_a_tensor_of_the_wrong_length_is_refused_on_load(three_kinds, tmp_path, field: str) -> None:
    from dataclasses import replace as dc_replace

    from safetensors import safe_open
    from safetensors.torch import save_file

    from prefedit.errors import DataError

    grace = three_kinds[2]
    patch = grace.patches[0]
    if patch.wide_radii is None:
        patch = dc_replace(patch, wide_radii=patch.radii.clone())
    path = save_delta(dc_replace(grace, patches=[patch]), tmp_path / "g.safetensors")
    with safe_open(str(path), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    tensors[f"p0.{field}"] = tensors[f"p0.{field}"][:-1].contiguous()  # one entry short, as a hand edit might leave it
    save_file(tensors, str(path), metadata=meta)
    n = patch.keys.shape[0]
    with pytest.raises(DataError, match=rf"codebook p0 has {n} keys but {n - 1} {field}"):
        load_delta(path)
