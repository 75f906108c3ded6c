"""Anchors: the unedited model's own answers to generic prompts, trained alongside a LoRA edit."""

from __future__ import annotations

import torch

from prefedit.deltas import applied
from prefedit.editing import get_editor
from prefedit.editing.anchors import anchor_questions, anchor_requests
from prefedit.editing.ft.compute_finetune import encode_requests, target_loss
from prefedit.models import generate

from test_editors_support import assert_same_state, fast_config, small_plan, snapshot


def test_anchor_targets_are_the_models_own_greedy_answers(tiny) -> None:
    lm = tiny("llama")
    reqs = anchor_requests(lm, 3, 6)
    assert [r.target for r in reqs] == generate(lm, [r.prompt for r in reqs], max_new_tokens=6)
    assert anchor_questions(3) == anchor_questions(3) and len(set(anchor_questions(8))) == 8


def test_anchors_keep_generic_answers_closer_to_the_base_model(tiny) -> None:
    lm = tiny("llama")
    plan = small_plan(lm)
    anchors = anchor_requests(lm, 4, 8)
    batch = encode_requests(lm.tokenizer, anchors)
    before = snapshot(lm)
    loss = {}
    for n in (0, 4):
        delta = get_editor("lora").compute(lm, plan, fast_config("lora", lm, anchors=n, anchor_tokens=8, steps=30, lr=2e-2))
        with applied(lm, delta), torch.no_grad():
            loss[n] = float(target_loss(lm.model, batch))
    assert_same_state(before, snapshot(lm))
    assert loss[4] < loss[0], loss


def test_bad_anchor_settings_are_specific_errors() -> None:
    import pytest

    from prefedit.editing.lora.config import LoraEditConfig
    from prefedit.errors import ConfigError

    for field, value in (("anchors", -1), ("anchor_tokens", 0), ("anchor_weight", -0.5)):
        with pytest.raises(ConfigError, match=field):
            LoraEditConfig(**{field: value})
