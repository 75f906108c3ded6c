"""GRACE: edits recalled through the codebook; prompts far from every key unchanged; split rule; no export."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from prefedit.deltas import applied, export_peft
from prefedit.editing import get_editor
from prefedit.editing.base import EditRequest
from prefedit.editing.grace.compute_codebook import cap_at_guards, split_labels, split_overlaps
from prefedit.editing.grace.config import GraceConfig
from prefedit.errors import ConfigError, ExportError
from prefedit.models import chat_prompt

from test_editors_support import fast_config, logits, small_plan


def test_split_overlaps_halves_conflicting_radii_only() -> None:
    keys = torch.tensor([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [10.5, 0.0]])
    radii = torch.full((4,), 2.0)
    out = split_overlaps(keys, radii, ["a", "b", "c", "c"])
    assert out.tolist() == [0.5, 0.5, 2.0, 2.0]  # a/b conflict is split; c/c share a label


def test_stripped_labels_keep_whitespace_variants_of_one_answer_whole() -> None:
    reqs = [EditRequest(prompt="p", target=t) for t in ("Lisbon", " Lisbon", "Porto")]
    keys = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    radii = torch.full((3,), 0.75)
    exact = split_overlaps(keys, radii, split_labels(reqs, "exact"))
    stripped = split_overlaps(keys, radii, split_labels(reqs, "stripped"))
    assert exact.tolist() == [0.5, 0.5, 0.5]
    assert stripped.tolist() == [0.75, 0.5, 0.5]  # only the Lisbon/Porto pair is cut


def test_guard_widening_grows_radii_only_as_far_as_the_guards_allow() -> None:
    keys = torch.tensor([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]])
    radii = torch.tensor([1.0, 1.0, 1.0])
    guards = torch.tensor([[0.0, 3.0], [10.0, 1.2], [20.0, 0.5]])  # guard distances 3, 1.2, 0.5
    assert cap_at_guards(keys, radii, guards).tolist() == [1.0, 1.0, 0.5]  # the plain cap
    capped = cap_at_guards(keys, radii, guards, widen=1.5, margin=0.9)
    assert capped.tolist() == pytest.approx([1.5, 1.08, 0.5])  # widen to 1.5 or to 0.9 x the guard, never past it
    kept = cap_at_guards(keys, radii, guards, cap=False, widen=1.5, margin=0.9)
    assert kept.tolist() == pytest.approx([1.5, 1.08, 1.0])  # without the cap no radius shrinks
    assert cap_at_guards(keys, radii, guards, cap=False).tolist() == [1.0, 1.0, 1.0]
    assert torch.equal(cap_at_guards(keys, radii, torch.empty(0, 2), widen=2.0), radii)  # no guards: nothing to widen into
    per_entry = cap_at_guards(keys, radii, guards, widen=torch.tensor([1.0, 1.5, 1.0]), margin=0.9)
    assert per_entry.tolist() == pytest.approx([1.0, 1.08, 0.5])  # only the second entry widens


def test_raw_entries_widen_by_raw_widen_and_the_others_by_widen() -> None:
    from prefedit.editing.grace.compute_codebook import widen_factors

    reqs = [EditRequest(prompt="chat", target="x"), EditRequest(prompt="raw", target=" x", raw=True)]
    assert widen_factors(reqs, GraceConfig(widen=1.4)).tolist() == pytest.approx([1.4, 1.4])  # raw_widen 0 = widen
    assert widen_factors(reqs, GraceConfig(widen=1.0, raw_widen=1.4)).tolist() == pytest.approx([1.0, 1.4])


def test_a_deployment_prompt_turns_the_guard_cap_back_on_and_the_widening_off() -> None:
    from prefedit.personalize import method_spec, with_system

    spec = method_spec("prefedit")
    assert spec.guard and spec.editor_overrides["guard_cap"] is False  # default prompt: guards bound the widening only
    deployed = with_system(spec, "You are Sol, a travel agent's assistant.")
    assert deployed.editor_overrides["guard_cap"] is True and deployed.editor_overrides["widen"] == 1.0 and deployed.guard == spec.guard
    # the raw copies carry no system prompt, so they keep the default's widening
    assert deployed.editor_overrides["raw_widen"] == spec.editor_overrides["widen"] > 1.0


def test_grace_config_refuses_an_unknown_split_rule_and_growth_out_of_range() -> None:
    with pytest.raises(ConfigError, match="split_labels must be one of exact, stripped"):
        GraceConfig(split_labels="casefold")
    with pytest.raises(ConfigError, match=r"grow_power must be in \[0, 1\], got 2"):
        GraceConfig(grow_from=96.0, grow_power=2)
    with pytest.raises(ConfigError, match="grow_from must be in"):
        GraceConfig(grow_from=-1.0)
    with pytest.raises(ConfigError, match="widen must be in"):
        GraceConfig(widen=0.5)
    with pytest.raises(ConfigError, match="raw_widen must be in"):
        GraceConfig(raw_widen=0.5)
    with pytest.raises(ConfigError, match="widen_margin must be in"):
        GraceConfig(widen_margin=1.5)
    with pytest.raises(ConfigError, match="warm_lr must be in"):
        GraceConfig(warm_lr=-1.0)


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_grace_recalls_edit_and_leaves_far_prompts_unchanged(tiny, family: str) -> None:
    lm = tiny(family)
    plan = small_plan(lm, 1)
    delta = get_editor("grace").compute(lm, plan, fast_config("grace", lm, steps=30, radius=0.05))
    req = plan.requests[0]
    far = chat_prompt(lm.tokenizer, "Tell me a long story about the sea and ships.")
    base_far = logits(lm, far)
    target_id = lm.tokenizer(req.target, add_special_tokens=False).input_ids[0]
    with applied(lm, delta):
        assert int(logits(lm, req.prompt)[-1].argmax()) == target_id  # the edit is recalled
        assert torch.equal(logits(lm, far), base_far)  # prompts far from every key: bit-identical
    assert delta.nbytes() > 0 and not delta.updates


def test_grace_zero_radius_fires_only_on_the_exact_key(tiny) -> None:
    lm = tiny("qwen2")
    plan = small_plan(lm, 1)
    delta = get_editor("grace").compute(lm, plan, fast_config("grace", lm, radius=0.0))
    other = plan.requests[0].prompt.replace("hobby", "hobbies")
    base_other, base_edit = logits(lm, other), logits(lm, plan.requests[0].prompt)
    with applied(lm, delta):
        assert torch.equal(logits(lm, other), base_other)
        assert not torch.equal(logits(lm, plan.requests[0].prompt), base_edit)


def test_grace_delta_refuses_peft_export(tiny, tmp_path) -> None:
    lm = tiny("llama")
    delta = get_editor("grace").compute(lm, small_plan(lm, 1), fast_config("grace", lm))
    with pytest.raises(ExportError, match="not a weight change"):
        export_peft(lm, delta, tmp_path / "adapter")
    assert not (tmp_path / "adapter").exists()


# A tiny random model's final norm bounds its logits: the target NLL cannot fall far below ~4.4.
NLL = 4.55


def _many_questions(lm, target: str = "x") -> tuple:  # one token: the key token's output alone decides it
    from prefedit.editing.base import EditRequest

    qs = ["What is my hobby?", "What's my hobby?", "Tell me my hobby.", "Do you remember my hobby?",
          "What do I do for fun?", "Suggest a weekend plan for me."]
    return tuple(EditRequest(prompt=chat_prompt(lm.tokenizer, q), target=target, preference_id="p") for q in qs)


@pytest.mark.parametrize("warm,per_request,warm_lr", [(2, False, 0.0), (0, True, 0.0), (2, True, 0.0), (2, True, 3.0)])
def test_warm_start_and_per_request_stop_still_solve_every_entry(tiny, warm: int, per_request: bool, warm_lr: float) -> None:
    from prefedit.editing.grace.compute_codebook import codebook_patch

    lm = tiny("llama")
    requests = _many_questions(lm)
    cfg = fast_config("grace", lm, steps=200, early_stop_nll=NLL, warm_start=warm, per_request_stop=per_request, warm_lr=warm_lr)
    patch, stats = codebook_patch(lm, requests, 0, cfg)
    assert stats["nll"] < NLL and stats["steps"] < 200
    assert (stats["warm_steps"] > 0) == (warm > 0)
    target_id = lm.tokenizer("x", add_special_tokens=False).input_ids[0]
    from prefedit.editing.base import EditPlan

    with applied(lm, get_editor("grace").compute(lm, EditPlan(requests=requests, kl_prompts=()), replace(cfg, layer=0.0))):
        for r in requests:
            assert int(logits(lm, r.prompt)[-1].argmax()) == target_id



def test_an_entry_stopped_on_its_own_keeps_the_value_it_stopped_at(tiny) -> None:
    # Entries are independent (each row sees only its own value, Adam is per coordinate), so with
    # per-request stop an entry trained among others must end where it ends trained alone: Adam's
    # momentum must not carry it on once it has stopped.
    from prefedit.editing.grace.compute_codebook import codebook_patch

    lm = tiny("llama")
    requests = _many_questions(lm)
    cfg = fast_config("grace", lm, steps=200, early_stop_nll=4.45, per_request_stop=True)  # stops spread over steps 38-41
    together, stats = codebook_patch(lm, requests, 0, cfg)
    alone = [codebook_patch(lm, (r,), 0, cfg) for r in requests]
    assert min(a[1]["steps"] for a in alone) < stats["steps"]  # some entries stop before the last one
    for i, (patch, _) in enumerate(alone):
        torch.testing.assert_close(together.values[i], patch.values[0], rtol=1e-4, atol=1e-4)

def test_warm_start_takes_fewer_full_batch_steps(tiny) -> None:
    from prefedit.editing.grace.compute_codebook import codebook_patch

    lm = tiny("llama")
    requests = _many_questions(lm)
    cold = codebook_patch(lm, requests, 0, fast_config("grace", lm, steps=200, early_stop_nll=NLL))[1]
    warm = codebook_patch(lm, requests, 0, fast_config("grace", lm, steps=200, early_stop_nll=NLL, warm_start=2))[1]
    assert warm["steps"] < cold["steps"]


def test_guard_prompts_cap_the_radii_so_no_guards_answer_start_key_lies_inside(tiny) -> None:
    from prefedit.editing.grace.compute_codebook import guard_keys

    lm = tiny("llama")
    plan = small_plan(lm, 2)
    guards = tuple(chat_prompt(lm.tokenizer, q) for q in ("What is my hobbyy?", "Where do I live now?", "Tell me about the sea."))
    config = fast_config("grace", lm, steps=30, radius=2.0)  # wide: the guards start inside
    wide = get_editor("grace").compute(lm, plan, config).patches[0]
    guarded = get_editor("grace").compute(lm, replace(plan, guard_prompts=guards), config).patches[0]
    g = guard_keys(lm, guarded.module, guards)
    assert (torch.cdist(wide.keys, g) < wide.radii[:, None]).any()  # without the cap some guard fires
    assert not (torch.cdist(guarded.keys, g) < guarded.radii[:, None]).any()
    assert (guarded.radii <= wide.radii).all() and (guarded.radii < wide.radii).any()
    assert torch.equal(guarded.keys, wide.keys)


def test_widened_entries_keep_their_plain_radius_and_stop_short_of_the_guards(tiny) -> None:
    from prefedit.editing.grace.compute_codebook import guard_keys

    lm = tiny("llama")
    plan = small_plan(lm, 2)
    guards = tuple(chat_prompt(lm.tokenizer, q) for q in ("What is my hobbyy?", "Where do I live now?", "Tell me about the sea."))
    config = fast_config("grace", lm, steps=30, radius=0.05)
    plain = get_editor("grace").compute(lm, replace(plan, guard_prompts=guards), replace(config, guard_cap=False)).patches[0]
    wide = get_editor("grace").compute(lm, replace(plan, guard_prompts=guards), replace(config, guard_cap=False, widen=50.0)).patches[0]
    assert plain.wide_radii is None and torch.equal(wide.radii, plain.radii)
    g = guard_keys(lm, wide.module, guards)
    nearest = torch.cdist(wide.keys, g).min(dim=1).values
    assert (wide.wide_radii >= wide.radii).all() and (wide.wide_radii > wide.radii).any()
    assert (wide.wide_radii <= torch.maximum(wide.radii, 0.9 * nearest) + 1e-6).all()


def test_warm_lr_sets_the_rate_of_the_warm_start_picks(tiny) -> None:
    from prefedit.editing.grace.compute_codebook import codebook_patch

    lm = tiny("llama")
    requests = _many_questions(lm)

    def run(warm_lr: float):
        cfg = fast_config("grace", lm, steps=200, early_stop_nll=NLL, warm_start=2, per_request_stop=True, warm_lr=warm_lr)
        return codebook_patch(lm, requests, 0, cfg)

    same, unset, faster = run(1.0), run(0.0), run(2.0)  # fast_config's lr is 1.0
    assert torch.equal(same[0].values, unset[0].values) and same[1]["warm_steps"] == unset[1]["warm_steps"]
    assert faster[1]["warm_steps"] != unset[1]["warm_steps"]  # the picks trained at another rate


def test_guard_keys_are_stored_once_and_read_back_exactly_in_a_new_process(tiny, tmp_path, monkeypatch) -> None:
    from prefedit.editing.grace import compute_codebook as cc
    from prefedit.editing.values import prompt_keys

    monkeypatch.setenv("PREFEDIT_CACHE", str(tmp_path))
    monkeypatch.setattr(cc, "_guard_keys", {})  # as in a fresh process
    lm = tiny("llama")
    module = lm.arch.path("mlp_out", 1)
    guards = tuple(chat_prompt(lm.tokenizer, q) for q in ("Where do I live now?", "Tell me about the sea."))
    first = cc.guard_keys(lm, module, guards)
    files = list(tmp_path.glob(f"stats/{lm.fingerprint}/guard-keys/*.safetensors"))
    assert len(files) == 1 and not list(tmp_path.rglob("*.tmp"))
    assert torch.equal(first, prompt_keys(lm, lm.model.get_submodule(module), guards))

    import prefedit.editing.values as values

    monkeypatch.setattr(cc, "_guard_keys", {})
    monkeypatch.setattr(values, "prompt_keys", lambda *a: pytest.fail("recomputed instead of read from disk"))
    assert torch.equal(cc.guard_keys(lm, module, guards), first)


def test_guard_keys_of_other_prompts_or_a_damaged_file_are_computed_not_read(tiny, tmp_path, monkeypatch) -> None:
    from prefedit.editing.grace import compute_codebook as cc

    monkeypatch.setenv("PREFEDIT_CACHE", str(tmp_path))
    monkeypatch.setattr(cc, "_guard_keys", {})
    lm = tiny("llama")
    module = lm.arch.path("mlp_out", 1)
    a = tuple(chat_prompt(lm.tokenizer, q) for q in ("Where do I live now?", "Tell me about the sea."))
    b = (a[0], chat_prompt(lm.tokenizer, "What is my hobbyy?"))
    ka, kb = cc.guard_keys(lm, module, a), cc.guard_keys(lm, module, b)
    assert torch.allclose(ka[0], kb[0], atol=1e-5) and not torch.allclose(ka[1], kb[1], atol=1e-3)
    files = sorted(tmp_path.glob(f"stats/{lm.fingerprint}/guard-keys/*.safetensors"))
    assert len(files) == 2
    for f in files:
        f.write_bytes(b"not a safetensors file")
    monkeypatch.setattr(cc, "_guard_keys", {})
    assert torch.equal(cc.guard_keys(lm, module, a), ka)  # recomputed and rewritten
    monkeypatch.setattr(cc, "_guard_keys", {})
    assert torch.equal(cc.guard_keys(lm, module, a), ka)  # the rewritten file reads back


def test_guard_keys_still_come_back_when_the_cache_cannot_be_written(tiny, tmp_path, monkeypatch) -> None:
    from prefedit.editing.grace import compute_codebook as cc

    def refuse(*_: object) -> None:
        raise PermissionError("read-only cache")

    monkeypatch.setenv("PREFEDIT_CACHE", str(tmp_path))
    monkeypatch.setattr(cc, "_guard_keys", {})
    monkeypatch.setattr(cc, "save_tensors", refuse)
    lm = tiny("llama")
    module = lm.arch.path("mlp_out", 1)
    guards = (chat_prompt(lm.tokenizer, "Tell me about the sea."),)
    keys = cc.guard_keys(lm, module, guards)
    assert keys.shape[0] == 1 and not list(tmp_path.rglob("*.safetensors"))
