"""``prefedit user export --to peft`` on the folder of ``prefedit models export``: PEFT loads the adapter
and gives the logits of the user's in-place edit (tiny model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import prefedit.cli.models  # importing these registers their commands on `app`
import prefedit.cli.user  # noqa: F401
from prefedit.cli.main import app
from prefedit.deltas import applied
from prefedit.errors import ExportError
from prefedit.models import chat_prompt, load_model
from prefedit.store import Personalizer, Store


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def invoke(*args: str | Path) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_exported_adapter_matches_the_in_place_edit(tiny, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    src, base, adapter, home = tmp_path / "src", tmp_path / "base", tmp_path / "adapters" / "alice", tmp_path / "home"
    tiny("llama").model.save_pretrained(src)
    tiny("llama").tokenizer.save_pretrained(src)
    invoke("models", "export", src, "--out", base)
    common = ["--home", home, "--model", base]
    invoke("user", "add", "alice", "My favorite color is teal", *common, "--method", "rome")
    invoke("user", "add", "alice", "I live in Lisbon", *common, "--method", "rome")
    report = json.loads(invoke("user", "export", "alice", "--to", "peft", "--out", adapter, "--base", base, *common))
    assert report["exact"] is True
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(base) and config["r"] == 2

    lm = load_model(str(base))
    ids = lm.tokenizer(chat_prompt(lm.tokenizer, "What is my favorite color?"), return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        before = lm.model(ids).logits
        with applied(lm, Personalizer(lm, Store.open(home)).user_delta("alice")):
            edited = lm.model(ids).logits
        peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter).eval()
        exported = peft_model(ids).logits
    assert not torch.allclose(edited, before)
    torch.testing.assert_close(exported, edited, rtol=1e-4, atol=1e-4)


def test_export_of_a_user_without_preferences_is_refused(tiny, tmp_path: Path) -> None:
    src = tmp_path / "src"
    tiny("llama").model.save_pretrained(src)
    tiny("llama").tokenizer.save_pretrained(src)
    invoke("user", "token", "bob", "--home", tmp_path / "home")
    result = CliRunner().invoke(app, ["user", "export", "bob", "--out", str(tmp_path / "x"), "--home", str(tmp_path / "home"), "--model", str(src)])
    assert isinstance(result.exception, ExportError)
