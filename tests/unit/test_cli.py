"""The CLI's help, error format and edit command, on a tiny model folder (CliRunner / subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from prefedit.cli.main import _register, app


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from prefedit.testing import tiny_model

    lm = tiny_model("llama")
    path = tmp_path_factory.mktemp("tiny") / "model"
    lm.model.save_pretrained(path)
    lm.tokenizer.save_pretrained(path)
    return path


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prefedit", *args], capture_output=True, text=True, timeout=300, env=env)


def test_help_lists_commands_with_examples() -> None:
    from typer.testing import CliRunner

    _register()
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("demo", "edit", "chat"):
        assert cmd in result.output
    edit_help = CliRunner().invoke(app, ["edit", "--help"])
    assert "Examples" in edit_help.output and "--subject" in edit_help.output


def test_unknown_model_prints_error_and_hint_with_exit_1() -> None:
    proc = _run("edit", "--subject", "city", "--target", "Lisbon", "--model", "no-such-model")
    assert proc.returncode == 1
    assert "\nerror: unknown model 'no-such-model'" in proc.stderr
    assert "\nhint: " in proc.stderr and proc.stdout == ""


def test_usage_error_exits_2() -> None:
    assert _run("edit", "--no-such-flag").returncode == 2


def test_unparsable_statement_asks_for_subject_and_target(tiny_dir) -> None:
    proc = _run("edit", "Blue whales are large.", "--model", str(tiny_dir))
    assert proc.returncode == 1
    assert "could not tell the subject and target" in proc.stderr
    assert "--subject" in proc.stderr


def test_empty_target_is_refused(tiny_dir) -> None:
    proc = _run("edit", "--subject", "city", "--target", "  ", "--model", str(tiny_dir), "--method", "rome")
    assert proc.returncode == 1 and "target is empty" in proc.stderr


def test_edit_prints_json_and_saves_the_delta(tiny_dir, tmp_path) -> None:
    out = tmp_path / "d.safetensors"
    proc = _run("edit", "I live in Lisbon.", "--model", str(tiny_dir), "--method", "rome", "--save", str(out), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["subject"] and data["target"] == "Lisbon" and data["seconds"] > 0
    from prefedit.deltas import read_description

    assert read_description(out)["info"]["editor"] == "rome"


def test_personalize_writes_one_delta_per_user(tiny_dir, tmp_path) -> None:
    prefs = tmp_path / "prefs.jsonl"
    prefs.write_text(
        '{"id": "a1", "user_id": "alice", "statement": "I live in Lisbon.", "subject": "city", "target": "Lisbon"}\n'
        '{"id": "b1", "user_id": "bob", "statement": "I code in Rust.", "subject": "programming language", "target": "Rust"}\n'
    )
    proc = _run("personalize", "--prefs", str(prefs), "--out", str(tmp_path / "out"), "--model", str(tiny_dir), "--method", "rome")
    assert proc.returncode == 0, proc.stderr
    users = json.loads(proc.stdout)["users"]
    assert set(users) == {"alice", "bob"} and users["alice"]["preferences"] == ["a1"]
    from prefedit.deltas import read_description

    assert read_description(tmp_path / "out" / "bob" / "delta.safetensors")["info"]["preference_ids"] == ["b1"]


def test_personalize_unknown_method_fails_before_loading(tiny_dir, tmp_path) -> None:
    proc = _run("personalize", "--prefs", str(tmp_path / "none.txt"), "--out", str(tmp_path / "o"), "--method", "romee")
    assert proc.returncode == 1 and "unknown method 'romee'" in proc.stderr and "rome" in proc.stderr


def test_personalize_keys_edits_under_the_deployment_system_prompt(tiny_dir, tmp_path) -> None:
    import os

    from prefedit.deltas import read_description

    prefs = tmp_path / "prefs.txt"
    prefs.write_text("I live in Lisbon.\n")
    env = {**os.environ, "PREFEDIT_SYSTEM_PROMPT": "You are Ada."}
    proc = _run("personalize", "--prefs", str(prefs), "--out", str(tmp_path / "out"), "--model", str(tiny_dir), "--method", "rome", env=env)
    assert proc.returncode == 0, proc.stderr
    (user,) = json.loads(proc.stdout)["users"]
    assert read_description(tmp_path / "out" / user / "delta.safetensors")["info"]["extra"]["system_prompt"] == "You are Ada."
    blank = _run("personalize", "--prefs", str(prefs), "--out", str(tmp_path / "o2"), "--model", str(tiny_dir), "--system-prompt", " ", env=env)
    assert blank.returncode == 1 and "system prompt is empty" in blank.stderr and not (tmp_path / "o2").exists()
