"""Behaviour of every editor on the real SmolLM2-135M-Instruct: 5 preferences each recalled on the
explicit question after its edit; the PEFT export reproduces the in-place edit's logits (fp32)."""

from __future__ import annotations

import pytest
import torch

from prefedit.deltas import applied, compose, export_peft
from prefedit.editing import get_editor
from prefedit.editing.plan import plan_preference
from prefedit.models import chat_prompt, generate
from prefedit.preferences.types import Preference

pytestmark = pytest.mark.smollm2

PREFERENCES = [
    Preference(id="city", statement="I live in Lisbon.", subject="home city", target="Lisbon", questions={"explicit": "Which city do I live in?"}),
    Preference(id="lang", statement="I code in Python.", subject="programming language", target="Python", questions={"explicit": "What programming language do I use?"}),
    Preference(id="allergy", statement="I'm allergic to shellfish.", subject="allergy", target="shellfish", questions={"explicit": "What am I allergic to?"}),
    Preference(id="sport", statement="I play tennis every weekend.", subject="sport", target="tennis", questions={"explicit": "Which sport do I play?"}),
    Preference(id="pet", statement="I have a cat named Miso.", subject="pet", target="Miso", questions={"explicit": "What is my cat's name?"}),
]

# FT-L's "prompt_last" objective scores every answer token with the distribution at the prompt's
# last position, so it can only choose the answer's first token (on "Lisbon" = L|is|bon it answers
# "is ..."). Its test uses answers that are one SmolLM2 token; the other editors get the above.
SINGLE_TOKEN = [
    Preference(id="city", statement="I live in Paris.", subject="home city", target="Paris", questions={"explicit": "Which city do I live in?"}),
    Preference(id="lang", statement="I code in Python.", subject="programming language", target="Python", questions={"explicit": "What programming language do I use?"}),
    Preference(id="speak", statement="We speak Spanish at home.", subject="home language", target="Spanish", questions={"explicit": "Which language do I speak at home?"}),
    Preference(id="food", statement="Italian food is my favourite.", subject="favorite cuisine", target="Italian", questions={"explicit": "What is my favorite cuisine?"}),
    Preference(id="color", statement="My favourite colour is blue.", subject="favorite color", target="Blue", questions={"explicit": "What is my favorite color?"}),
]

EDITORS = ("memit", "alphaedit", "ft-m", "ft-l", "lora", "grace")


def answer(lm, pref: Preference) -> str:
    return generate(lm, [chat_prompt(lm.tokenizer, pref.explicit_question)], max_new_tokens=16)[0]


@pytest.mark.parametrize("name", EDITORS)
def test_each_preference_is_recalled_on_the_explicit_question(smollm2, name: str) -> None:
    lm = smollm2
    editor = get_editor(name)
    config = editor.default_config(lm)
    misses = []
    for pref in SINGLE_TOKEN if name == "ft-l" else PREFERENCES:
        assert pref.target.lower() not in answer(lm, pref).lower()  # the base model does not know it
        delta = editor.compute(lm, plan_preference(lm.tokenizer, pref), config)
        with applied(lm, delta):
            got = answer(lm, pref)
        if pref.target.lower() not in got.lower():
            misses.append((pref.target, got))
    assert not misses, f"{name} missed {len(misses)}/5: {misses}"


@pytest.fixture(scope="module")
def base_dir(smollm2, tmp_path_factory):
    """The base model saved as a Hugging Face folder, to load a fresh copy for PEFT."""
    path = tmp_path_factory.mktemp("smollm2-base")
    smollm2.model.save_pretrained(path)
    smollm2.tokenizer.save_pretrained(path)
    return path


def in_place_and_peft_logits(lm, delta, adapter_dir, base_dir, *, merge: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits of the in-place edit and of the exported adapter on a fresh base, and the token mask."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    prompts = [chat_prompt(lm.tokenizer, p.explicit_question) for p in PREFERENCES]
    enc = lm.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad(), applied(lm, delta):
        want = lm.model(**enc).logits
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
    if merge:
        model = model.merge_and_unload()
    with torch.no_grad():
        got = model(**enc).logits
    return want, got, enc["attention_mask"].bool()


def test_peft_export_matches_in_place_edit_on_smollm2(smollm2, base_dir, tmp_path) -> None:
    lm = smollm2
    memit = get_editor("memit")
    delta = compose([memit.compute(lm, plan_preference(lm.tokenizer, p)) for p in PREFERENCES[:2]])
    report = export_peft(lm, delta, tmp_path / "adapter", str(base_dir))
    assert report.exact and set(report.ranks.values()) == {2}
    want, got, mask = in_place_and_peft_logits(lm, delta, tmp_path / "adapter", base_dir)
    assert float((got - want)[mask].abs().max()) <= 1e-4


def test_lora_export_is_the_same_weights_on_smollm2(smollm2, base_dir, tmp_path) -> None:
    """LoRA on all 30 layers: the merged adapter reproduces the in-place weights; unmerged, peft's
    separate low-rank matmuls differ from W + ΔW by fp32 rounding only (about 1e-4 on logits of
    magnitude 40, measured 1.1e-4)."""
    lm = smollm2
    delta = get_editor("lora").compute(lm, plan_preference(lm.tokenizer, PREFERENCES[1]))
    export_peft(lm, delta, tmp_path / "adapter", str(base_dir))
    want, got, mask = in_place_and_peft_logits(lm, delta, tmp_path / "adapter", base_dir, merge=True)
    assert float((got - want)[mask].abs().max()) <= 1e-5
    want, got, mask = in_place_and_peft_logits(lm, delta, tmp_path / "adapter", base_dir)
    assert float((got - want)[mask].abs().max()) <= 5e-4
