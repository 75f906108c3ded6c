"""``prefedit user ...``, ``prefedit models export`` and ``prefedit serve`` (refusal) through CliRunner,
on a tiny model saved as a local folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import prefedit.cli.models  # importing these registers their commands on `app`
import prefedit.cli.serve
import prefedit.cli.user  # noqa: F401
from prefedit.cli.main import app
from prefedit.errors import ConfigError, DeltaMismatchError, NotFoundError, StatementParseError
from prefedit.store import Store


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model_dir(tiny, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny-llama")
    lm = tiny("llama")
    lm.model.save_pretrained(out)
    lm.tokenizer.save_pretrained(out)
    return out


@pytest.fixture
def run(model_dir: Path, tmp_path: Path):
    """Invoke ``prefedit`` with the tiny model, a fast method and a store in tmp_path."""
    runner = CliRunner()

    def invoke(*args: str, model: bool = False, home: bool = True):
        extra = (["--home", str(tmp_path / "home")] if home else []) + (["--model", str(model_dir), "--method", "rome"] if model else [])
        return runner.invoke(app, [*args, *extra])

    return invoke


def ok(result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_add_list_forget_delete(run, tmp_path: Path) -> None:
    added = json.loads(ok(run("user", "add", "alice", "I live in Lisbon", "--format", "json", model=True)))
    assert [(p["subject"], p["target"]) for p in added] == [("location", "Lisbon")]
    pid = added[0]["id"]
    args = ["I moved", "--subject", "location", "--target", "Porto", "--supersedes", pid, "--format", "json"]
    (new,) = json.loads(ok(run("user", "add", "alice", *args, model=True)))
    assert new["supersedes"] == pid
    listed = json.loads(ok(run("user", "list", "alice", "--format", "json")))
    assert [(p["target"], p["active"]) for p in listed] == [("Lisbon", False), ("Porto", True)]
    assert "Porto" in ok(run("user", "list", "alice"))
    (user,) = json.loads(ok(run("user", "list", "--format", "json")))
    assert (user["id"], user["preferences"], user["has_token"]) == ("alice", 2, False)
    ok(run("user", "forget", "alice", new["id"]))
    assert [p["active"] for p in json.loads(ok(run("user", "list", "alice", "--format", "json")))] == [True]
    ok(run("user", "delete", "alice"))
    assert json.loads(ok(run("user", "list", "--format", "json"))) == []


def test_home_defaults_to_prefedit_home(run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PREFEDIT_HOME", str(tmp_path / "envhome"))
    ok(run("user", "token", "bob", home=False))
    assert [u.id for u in Store.open(tmp_path / "envhome").users()] == ["bob"]


def test_token_is_printed_once_and_works(run, tmp_path: Path) -> None:
    token = ok(run("user", "token", "alice")).strip()
    assert Store.open(tmp_path / "home").user_for_token(token) == "alice"


def test_import_file(run, tmp_path: Path) -> None:
    prefs = tmp_path / "prefs.txt"
    prefs.write_text("# alice\nI live in Lisbon\nMy favorite color is teal\n")
    imported = json.loads(ok(run("user", "import", "alice", str(prefs), "--format", "json", model=True)))
    assert [p["target"] for p in imported] == ["Lisbon", "teal"]


def test_errors_are_prefedit_errors(run, tmp_path: Path) -> None:
    result = run("user", "add", "alice", "hmm, well", model=True)
    assert isinstance(result.exception, StatementParseError)
    assert isinstance(run("user", "forget", "nobody", "pref_0").exception, NotFoundError)
    assert isinstance(run("user", "list", "alice", "--format", "xml").exception, ConfigError)
    assert run("user", "add").exit_code == 2


def test_delta_for_another_base_model_is_refused(run, tiny, tmp_path: Path) -> None:
    ok(run("user", "add", "alice", "I live in Lisbon", model=True))
    other = tmp_path / "other"
    lm = tiny("qwen2")
    lm.model.save_pretrained(other)
    lm.tokenizer.save_pretrained(other)
    args = ["--to", "peft", "--out", str(tmp_path / "x"), "--home", str(tmp_path / "home"), "--model", str(other)]
    result = CliRunner().invoke(app, ["user", "export", "alice", *args])
    assert isinstance(result.exception, DeltaMismatchError)


def test_serve_refuses_to_start_without_admin_token(run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFEDIT_ADMIN_TOKEN", raising=False)
    result = run("serve", "--port", "1")
    assert isinstance(result.exception, ConfigError) and "admin token" in str(result.exception)


def test_models_export_writes_a_hugging_face_folder(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "base"
    ok(CliRunner().invoke(app, ["models", "export", str(model_dir), "--out", str(out)]))
    assert (out / "config.json").is_file() and (out / "tokenizer_config.json").is_file()
    assert any(out.glob("*.safetensors"))
    again = CliRunner().invoke(app, ["models", "export", str(model_dir), "--out", str(out)])
    assert isinstance(again.exception, ConfigError)
