"""Helpers (no tests) shared by the editor unit tests: fast configs, a small plan, and model-state snapshots."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from prefedit.deltas import apply_delta, revert_delta
from prefedit.editing import EditPlan, EditRequest, get_editor
from prefedit.models import chat_prompt

EDITOR_NAMES = ("rome", "memit", "alphaedit", "ft-m", "ft-l", "lora", "grace")

# Few steps and a small corpus sample keep each edit of a tiny model well under a second.
FAST: dict[str, dict[str, Any]] = {
    "rome": {"steps": 3, "stats_tokens": 2000},
    "memit": {"steps": 3, "stats_tokens": 2000},
    "alphaedit": {"steps": 3, "stats_tokens": 2000},
    "ft-m": {"steps": 3, "lr": 1e-2},
    "ft-l": {"steps": 3, "lr": 1e-2},
    "lora": {"steps": 3, "rank": 4},
    "grace": {"steps": 3},
}


def fast_config(name: str, lm: Any, **over: Any) -> Any:
    ed = get_editor(name)
    return replace(ed.default_config(lm), **{**FAST[name], **over})


def small_plan(lm: Any, n: int = 2) -> EditPlan:
    qa = [("What is my hobby?", "chess", "hobby"), ("Where do I live?", "Lisbon", "home"), ("What do I drink?", "tea", "drink")]
    reqs = tuple(EditRequest(prompt=chat_prompt(lm.tokenizer, q), target=t, preference_id=p) for q, t, p in qa[:n])
    return EditPlan(requests=reqs, kl_prompts=(chat_prompt(lm.tokenizer, "What does the word 'hobby' mean?"),))


def snapshot(lm: Any) -> dict[str, Any]:
    """Everything an editor must leave as it found: weights, grad flags, hooks, train flags."""
    m = lm.model
    return {
        "weights": {k: v.detach().clone() for k, v in m.state_dict().items()},
        "grad": {n: p.requires_grad for n, p in m.named_parameters()},
        "hooks": {n: (len(x._forward_hooks), len(x._forward_pre_hooks), len(x._backward_hooks)) for n, x in m.named_modules()},
        "training": {n: x.training for n, x in m.named_modules()},
        "types": {n: type(x).__name__ for n, x in m.named_modules()},
    }


def assert_same_state(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert before["weights"].keys() == after["weights"].keys()
    for k, v in before["weights"].items():
        assert torch.equal(v, after["weights"][k]), k
    for key in ("grad", "hooks", "training", "types"):
        assert before[key] == after[key], key


def logits(lm: Any, prompt: str) -> torch.Tensor:
    ids = lm.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        return lm.model(ids).logits[0].float()


def claimed_params(name: str, lm: Any, config: Any) -> set[str]:
    """Parameters each editor says it edits, from its config."""
    if name in ("rome", "ft-m", "ft-l"):
        return {lm.arch.weight_name("mlp_out", config.layer_index(lm))}
    if name in ("memit", "alphaedit"):
        return {lm.arch.weight_name("mlp_out", layer) for layer in config.layer_indices(lm)}
    if name == "lora":
        return {lm.arch.weight_name(c, layer) for layer in config.layer_indices(lm) for c in config.components}
    return set()  # grace changes no weight


def check_pure_and_claimed(lm: Any, name: str) -> None:
    """compute is pure, the delta names what changes, apply changes only that, revert is bit-exact."""
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
