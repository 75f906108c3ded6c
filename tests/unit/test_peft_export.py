"""PEFT export: the adapter loads with peft.PeftModel.from_pretrained and gives the in-place edit's logits."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from prefedit.deltas import Delta, DeltaInfo, applied, compose, export_peft
from prefedit.editing import get_editor
from prefedit.errors import DeltaMismatchError, ExportError
from prefedit.testing import TINY_FAMILIES, tiny_model

from test_editors_support import fast_config, logits, small_plan


def peft_logits(family: str, adapter_dir, prompt: str) -> torch.Tensor:
    from peft import PeftModel

    base = tiny_model(family)  # a fresh copy of the same seeded base weights
    model = PeftModel.from_pretrained(base.model, str(adapter_dir))
    ids = base.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        return model(input_ids=ids).logits[0].float()


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_low_rank_export_is_exact_and_loads_in_peft(tiny, tmp_path, family: str) -> None:
    lm = tiny(family)
    plan = small_plan(lm)
    lora = get_editor("lora").compute(lm, plan, fast_config("lora", lm))
    memit = get_editor("memit").compute(lm, plan, fast_config("memit", lm))
    delta = compose([lora, memit])  # mlp_out gets rank 4 + 2, attn_out rank 4: two ranks
    report = export_peft(lm, delta, tmp_path, "tiny-base")
    assert report.exact and report.max_relative_error == 0.0
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["base_model_name_or_path"] == "tiny-base"
    assert config["r"] == config["lora_alpha"] == 4  # scaling 1
    assert config["rank_pattern"] == config["alpha_pattern"] and set(config["rank_pattern"].values()) == {6}
    assert config["fan_in_fan_out"] is lm.arch.spec.conv1d
    prompt = plan.requests[0].prompt
    with applied(lm, delta):
        want = logits(lm, prompt)
    assert float((peft_logits(family, tmp_path, prompt) - want).abs().max()) <= 1e-5


def test_dense_export_reports_svd_error(tiny, tmp_path) -> None:
    lm = tiny("llama")
    plan = small_plan(lm)
    delta = get_editor("ft-m").compute(lm, plan, fast_config("ft-m", lm))
    full = export_peft(lm, delta, tmp_path / "full", dense_tol=1e-6)
    assert not full.exact and full.max_relative_error <= 1e-6
    prompt = plan.requests[0].prompt
    with applied(lm, delta):
        want = logits(lm, prompt)
    assert float((peft_logits("llama", tmp_path / "full", prompt) - want).abs().max()) <= 1e-4
    cut = export_peft(lm, delta, tmp_path / "cut", dense_rank=2)
    (param,) = cut.ranks
    assert cut.ranks[param] == 2 and 0 < cut.max_relative_error < 1
    assert cut.to_dict()["max_relative_error"] == cut.max_relative_error


def test_adapter_file_uses_peft_key_names_and_records_the_delta(tiny, tmp_path) -> None:
    lm = tiny("gpt2")
    delta = get_editor("rome").compute(lm, small_plan(lm, 1), fast_config("rome", lm))
    export_peft(lm, delta, tmp_path)
    with safe_open(str(tmp_path / "adapter_model.safetensors"), framework="pt") as f:
        keys = sorted(f.keys())
        meta = json.loads(f.metadata()["prefedit"])
    path = lm.arch.path("mlp_out", delta.info.extra["layer"])
    assert keys == [f"base_model.model.{path}.lora_A.weight", f"base_model.model.{path}.lora_B.weight"]
    assert meta["editor"] == "rome" and meta["fingerprint"] == lm.fingerprint and meta["exact"]


def test_export_refuses_foreign_or_empty_deltas(tiny, tmp_path) -> None:
    lm = tiny("llama")
    delta = get_editor("rome").compute(lm, small_plan(lm, 1), fast_config("rome", lm))
    delta.info.fingerprint = "0" * 16
    with pytest.raises(DeltaMismatchError):
        export_peft(lm, delta, tmp_path)
    with pytest.raises(ExportError, match="no weight updates"):
        export_peft(lm, Delta(info=DeltaInfo(editor="x", fingerprint=lm.fingerprint)), tmp_path)
