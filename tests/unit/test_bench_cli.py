"""``prefedit bench`` through the CLI (CliRunner): listing, errors, a dummy run."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from prefedit.cli.main import _register, app

_register()
runner = CliRunner()


def test_list_methods_describes_every_method() -> None:
    result = runner.invoke(app, ["bench", "--list-methods"])
    assert result.exit_code == 0
    for name in ("zero-shot", "prompt", "rag", "reminder", "sft-full", "sft-lora", "rome", "paper-rome-cluster", "paper-ice", "prefedit"):
        assert f"\n{name} " in "\n" + result.stdout
    assert "omitted for implicit and recommendation" in result.stdout


def test_dummy_run_prints_a_table(tmp_path: Path) -> None:
    data = tmp_path / "d.json"
    data.write_text(json.dumps([{"input_attribute": "My pet is a cat.", "attribute_type": "pet", "question": "What is my pet?", "target": "cat"}]))
    out = tmp_path / "out"
    result = runner.invoke(app, ["bench", "--data", str(data), "--methods", "zero-shot", "--out", str(out), "--backend", "dummy", "--no-isolate"])
    assert result.exit_code == 0, result.output
    assert "| zero-shot |" in result.stdout and (out / "summary.json").is_file()


def test_bad_turns_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "--data", "x.json", "--methods", "prompt", "--out", str(tmp_path), "--turns", "0,two"])
    assert result.exit_code == 2


def test_dtype_reaches_the_run_and_an_unknown_one_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "d.json"
    data.write_text(json.dumps([{"input_attribute": "My pet is a cat.", "attribute_type": "pet", "question": "What is my pet?", "target": "cat"}]))
    out = tmp_path / "out"
    result = runner.invoke(app, ["bench", "--data", str(data), "--methods", "zero-shot", "--out", str(out), "--backend", "dummy",
                                 "--no-isolate", "--dtype", "bfloat16"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["dtype"] == "bfloat16"
    bad = runner.invoke(app, ["bench", "--data", str(data), "--methods", "zero-shot", "--out", str(tmp_path / "bad"), "--backend", "dummy",
                              "--no-isolate", "--dtype", "int8"])
    assert bad.exit_code != 0 and "dtype must be one of float32, bfloat16, float16, got 'int8'" in str(bad.exception)
    assert not (tmp_path / "bad").exists()
