"""Codebook radii that widen with the token's position: the rule, the positions each forward path
reports, serialization and composition keep it, and generation paths agree under it."""

from __future__ import annotations

import torch

from prefedit.deltas import Delta, DeltaInfo, applied, compose, load_delta, save_delta
from prefedit.deltas.delta import CodebookPatch, PositionTracker, codebook_output
from prefedit.editing import get_editor
from prefedit.models import chat_prompt
from prefedit.models.generate import generate

from test_editors_support import fast_config, small_plan
from test_generate_shared import _conversation_prompts


def _patch(**growth: float) -> CodebookPatch:
    return CodebookPatch("m", torch.zeros(1, 2), torch.full((1, 2), 7.0), torch.ones(1), **growth)


def test_radius_widens_with_position_only_past_grow_from() -> None:
    x = torch.tensor([[[1.5, 0.0], [1.5, 0.0], [1.5, 0.0]]])  # distance 1.5 from the key, radius 1
    out = torch.zeros(1, 3, 2)
    positions = torch.tensor([[10, 25, 100]])  # growth (p / 25) ** 0.5: 1, 1, 2
    fixed = codebook_output(_patch(), x, out, positions)
    grown = codebook_output(_patch(grow_from=25.0, grow_power=0.5), x, out, positions)
    assert fixed.abs().sum() == 0
    assert grown[0, :, 0].tolist() == [0.0, 0.0, 7.0]
    # one row of position ids broadcasts over the batch
    both = codebook_output(_patch(grow_from=25.0, grow_power=0.5), x.expand(2, -1, -1), out.expand(2, -1, -1), positions)
    assert both[:, 2, 0].tolist() == [7.0, 7.0] and both[:, :2].abs().sum() == 0


def test_a_wide_radius_holds_at_the_start_and_is_not_grown_by_the_position() -> None:
    x = torch.tensor([[[1.5, 0.0], [2.5, 0.0], [2.5, 0.0]]])  # distances 1.5, 2.5, 2.5; radius 1, wide 2
    out = torch.zeros(1, 3, 2)
    positions = torch.tensor([[10, 25, 225]])  # growth (p / 25) ** 0.5: 1, 1, 3
    patch = CodebookPatch("m", torch.zeros(1, 2), torch.full((1, 2), 7.0), torch.ones(1), 25.0, 0.5, torch.full((1,), 2.0))
    got = codebook_output(patch, x, out, positions)
    assert got[0, :, 0].tolist() == [7.0, 0.0, 7.0]  # wide radius at the start; the grown plain radius (3) late, not 2 x 3


def test_wide_radii_survive_save_load_and_compose_with_plain_patches(tmp_path) -> None:
    wide = CodebookPatch("m", torch.zeros(1, 2), torch.ones(1, 2), torch.ones(1), 96.0, 0.1, torch.full((1,), 1.5))
    plain = CodebookPatch("m", torch.ones(1, 2), torch.ones(1, 2), torch.full((1,), 0.5), 96.0, 0.1)
    info = DeltaInfo(editor="grace", fingerprint="f")
    save_delta(Delta(info=info, patches=[wide]), tmp_path / "d.safetensors")
    back = load_delta(tmp_path / "d.safetensors").patches[0]
    assert back.wide_radii is not None and back.wide_radii.tolist() == [1.5]
    merged = compose([Delta(info=info, patches=[wide]), Delta(info=info, patches=[plain])]).patches
    assert len(merged) == 1 and merged[0].wide_radii.tolist() == [1.5, 0.5]  # the plain entry's reach is its own radius
    assert compose([Delta(info=info, patches=[plain])] * 2).patches[0].wide_radii is None


def _seen_positions(lm, run) -> list[torch.Tensor]:
    tracker = PositionTracker(lm.model)
    seen: list[torch.Tensor] = []
    handle = lm.arch.module("mlp_out", 0).register_forward_hook(lambda *_: seen.append(tracker.current.clone()))
    try:
        run()
    finally:
        handle.remove()
        tracker.remove()
    return seen


def test_tracker_reports_positions_without_padding_offsets(tiny) -> None:
    lm = tiny("llama")
    short, long = chat_prompt(lm.tokenizer, "Hi?"), chat_prompt(lm.tokenizer, "Tell me a long story about the sea and ships.")
    n_short = len(lm.tokenizer(short, add_special_tokens=False).input_ids)
    alone = _seen_positions(lm, lambda: generate(lm, [short], max_new_tokens=3))
    padded = _seen_positions(lm, lambda: generate(lm, [long, short], max_new_tokens=3))
    assert alone[0].tolist() == [list(range(n_short))]
    row = int((padded[0][:, -1] == n_short - 1).nonzero()[0, 0])  # generate may reorder its batch
    assert padded[0][row, -n_short:].tolist() == list(range(n_short))  # the padded row counts from its first real token
    assert [p[0, -1].item() for p in alone[1:]] == [p[row, -1].item() for p in padded[1:]] == [n_short, n_short + 1]
    # a plain forward with a past: positions continue after the cached tokens
    ids = lm.tokenizer(short, return_tensors="pt", add_special_tokens=False).input_ids

    def two_steps() -> None:
        past = lm.model(input_ids=ids[:, :-1], use_cache=True).past_key_values
        lm.model(input_ids=ids[:, -1:], past_key_values=past, use_cache=True)

    steps = _seen_positions(lm, two_steps)
    assert steps[0].tolist() == [list(range(n_short - 1))] and steps[1].tolist() == [[n_short - 1]]


def _growing_delta(lm) -> Delta:
    plan = small_plan(lm, 1)
    return get_editor("grace").compute(lm, plan, fast_config("grace", lm, radius=0.3, grow_from=16.0, grow_power=0.3))


def test_growth_survives_save_load_and_compose(tiny, tmp_path) -> None:
    lm = tiny("llama")
    delta = _growing_delta(lm)
    assert delta.patches[0].growth() == (16.0, 0.3)
    back = load_delta(save_delta(delta, tmp_path / "d.safetensors"))
    assert back.patches[0].growth() == (16.0, 0.3)
    fixed = Delta(info=DeltaInfo(editor="grace", fingerprint=delta.info.fingerprint), patches=[_patch()])
    fixed.patches[0].module = delta.patches[0].module
    merged = compose([delta, delta, fixed])
    assert sorted(p.growth() for p in merged.patches) == [(0.0, 0.0), (16.0, 0.3)]  # one codebook per rule
    assert [p.keys.shape[0] for p in merged.patches if p.grows] == [2 * delta.patches[0].keys.shape[0]]


def test_growing_codebook_fires_late_and_generation_paths_agree(tiny) -> None:
    lm = tiny("llama")
    delta = _growing_delta(lm)
    prompts = _conversation_prompts(lm)
    fixed = Delta(info=delta.info, patches=[CodebookPatch(**{**vars(delta.patches[0]), "grow_from": 0.0, "grow_power": 0.0})])
    with applied(lm, delta):
        grown = generate(lm, prompts, max_new_tokens=6, share_min_tokens=0)
        assert generate(lm, prompts, max_new_tokens=6, share_min_tokens=64) == grown
        assert [generate(lm, [p], max_new_tokens=6)[0] for p in prompts[:3]] == grown[:3]
    with applied(lm, fixed):
        assert generate(lm, prompts, max_new_tokens=6, share_min_tokens=0) != grown  # the growth changed what fires


def test_routed_rows_apply_a_growing_codebook_like_an_applied_delta(tiny) -> None:
    from prefedit.bench.backends import HFBackend

    lm = tiny("llama")
    delta = _growing_delta(lm)
    prompts = _conversation_prompts(lm, turns=(0, 8))  # short ones padded, long ones share a prefill
    assert backend_long(lm, prompts)
    route = [0, -1, 0, -1]
    backend = HFBackend(lm, batch_size=4)
    with backend.routing([delta]):
        answers = backend.generate(prompts, [6] * 4, route=route)
    for p, d, a in zip(prompts, route, answers, strict=True):
        with applied(lm, delta if d >= 0 else None):
            assert generate(lm, [p], max_new_tokens=6, share_min_tokens=0) == [a]


def backend_long(lm, prompts: list[str]) -> bool:
    from prefedit.models.generate import SHARE_MIN_TOKENS

    lengths = [len(lm.tokenizer(p, add_special_tokens=False).input_ids) for p in prompts]
    return min(lengths) < SHARE_MIN_TOKENS <= max(lengths)
