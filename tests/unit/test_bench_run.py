"""Bench wiring with the DummyBackend: outputs, schema, resume, refusal and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prefedit.bench import BenchConfig, DummyBackend, run_bench
from prefedit.errors import ConfigError, DataError, UnknownNameError


def upqa(tmp: Path, n: int = 4, name: str = "d.json", **extra: object) -> Path:
    kinds = ["hobby", "pet", "job", "city"]
    rows = [{"input_attribute": f"My {kinds[i % 4]} is thing{i}.", "attribute_type": kinds[i % 4], "question": f"What is my {kinds[i % 4]}?",
             "question_paraphrased": f"Remind me of my {kinds[i % 4]}.", "implicit_question": f"Plan something {i}.",
             "product_recommendation_question": f"What to buy {i}?", "target": f"thing{i}", **extra} for i in range(n)]
    path = tmp / name
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def distractors(tmp: Path) -> Path:
    conv = {"conversation": [m for i in range(6) for m in ({"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"})]}
    path = tmp / "inter_turns.json"
    path.write_text(json.dumps([conv]), encoding="utf-8")
    return path


def knows_targets(prompt: str) -> str:
    """Answers with the last 'thingN' the prompt mentions: right whenever the preference is in context."""
    import re

    found = re.findall(r"thing\d+", prompt)
    return f"I think it is {found[-1]}." if found else "I do not know."


def config(tmp: Path, **kw: object) -> BenchConfig:
    base = dict(data=(str(upqa(tmp)),), methods=("zero-shot", "prompt"), out=str(tmp / "out"), backend="dummy", isolate=False)
    base.update(kw)
    return BenchConfig(**base)  # type: ignore[arg-type]


def test_run_writes_results_summary_and_report(tmp_path: Path) -> None:
    cfg = config(tmp_path, turns=(0, 2), distractors=str(distractors(tmp_path)))
    summary = run_bench(cfg, backend=DummyBackend(knows_targets))
    out = Path(cfg.out)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 4 * 4 * 2 * 2  # items x query types x turns x methods
    assert {"prompt", "answer", "verdicts", "item", "query_type", "turns", "method"} <= set(rows[0])
    for key in ("model", "protocol", "judge", "mode", "data", "results", "locality", "retention", "efficiency"):
        assert key in summary
    acc = {(r["method"], r["query_type"], r["turns"]): r["accuracy"] for r in summary["results"]}
    assert acc[("prompt", "explicit", 0)] == 1.0 and acc[("zero-shot", "explicit", 0)] == 0.0
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in summary["results"])
    assert {e["method"]: e["seconds_per_preference"] for e in summary["efficiency"]} == {"zero-shot": None, "prompt": None}
    assert (out / "report.md").read_text().count("|") > 10 and (out / "plots" / "accuracy_vs_turns.png").is_file()
    assert json.loads((out / "summary.json").read_text())["results"] == summary["results"]


def test_items_of_prompting_methods_share_generate_calls(tmp_path: Path) -> None:
    backend = DummyBackend()
    run_bench(config(tmp_path, methods=("zero-shot",)), backend=backend)
    assert backend.calls == [16]  # 4 items x 4 query types in one call


def test_resume_keeps_finished_rows(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    run_bench(cfg, backend=DummyBackend())
    again = DummyBackend()
    summary = run_bench(cfg, resume=True, backend=again)
    assert again.calls == [] and sum(r["n"] for r in summary["results"]) == 32


def test_resume_with_another_method_adds_it_and_keeps_the_earlier_ones(tmp_path: Path) -> None:
    run_bench(config(tmp_path, methods=("zero-shot",)), backend=DummyBackend())
    first = (Path(tmp_path) / "out" / "parts" / "zero-shot.rows.jsonl").read_bytes()
    summary = run_bench(config(tmp_path, methods=("prompt",)), resume=True, backend=DummyBackend(knows_targets))
    assert (Path(tmp_path) / "out" / "parts" / "zero-shot.rows.jsonl").read_bytes() == first  # not rerun
    assert (Path(tmp_path) / "out" / "parts" / "prompt.rows.jsonl").stat().st_size > 0
    assert set(summary["methods"]) == {"zero-shot", "prompt"}
    assert {r["method"] for r in summary["results"]} == {"zero-shot", "prompt"}
    assert json.loads((Path(tmp_path) / "out" / "run.json").read_text())["settings"]["methods"] == ["zero-shot", "prompt"]


def test_other_settings_in_out_are_refused_with_a_hint(tmp_path: Path) -> None:
    run_bench(config(tmp_path), backend=DummyBackend())
    with pytest.raises(ConfigError) as exc:
        run_bench(config(tmp_path, seed=1), resume=True, backend=DummyBackend())
    assert "seed" in exc.value.message and "new --out" in (exc.value.hint or "")
    with pytest.raises(ConfigError, match="already holds"):
        run_bench(config(tmp_path), backend=DummyBackend())


def test_unknown_method_lists_the_closest_and_valid_ones_before_any_work(tmp_path: Path) -> None:
    cfg = config(tmp_path, methods=("promt",))
    with pytest.raises(UnknownNameError) as exc:
        run_bench(cfg, backend=DummyBackend())
    assert "closest match: 'prompt'" in exc.value.message and "zero-shot" in exc.value.message
    assert not Path(cfg.out).exists()


def test_malformed_row_stops_before_any_work(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"input_attribute": "x", "attribute_type": "hobby", "question": "q?"}]))
    cfg = config(tmp_path, data=(str(bad),))
    with pytest.raises(DataError, match=r"bad\.json: row 0: field 'target'"):
        run_bench(cfg, backend=DummyBackend())
    assert not Path(cfg.out).exists()


def test_cluster_preset_refuses_flat_data(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="needs clustered data"):
        run_bench(config(tmp_path, methods=("paper-rome-cluster",)), backend=DummyBackend())


def test_batch_mode_refuses_editors_without_batch(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--mode batch"):
        run_bench(config(tmp_path, methods=("sft-lora",), mode="batch"), backend=DummyBackend())


def test_turns_beyond_the_context_are_refused(tmp_path: Path) -> None:
    backend = DummyBackend()
    backend.max_context = 60
    with pytest.raises(ConfigError, match="context of 60"):
        run_bench(config(tmp_path, turns=(0, 6), distractors=str(distractors(tmp_path))), backend=backend)


def test_limit_and_query_types(tmp_path: Path) -> None:
    summary = run_bench(config(tmp_path, limit=2, query_types=("explicit", "implicit")), backend=DummyBackend())
    assert {(r["query_type"], r["n"]) for r in summary["results"]} == {("explicit", 2), ("implicit", 2)}


def test_embed_judge_verdicts_kept_next_to_match(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefedit.bench.judges import embed

    class Fake:
        def encode(self, texts):
            import numpy as np

            v = np.array([[1.0, 0.0] if "thing" in t else [0.0, 1.0] for t in texts])
            return v

    monkeypatch.setattr(embed.EmbedJudge, "__init__", lambda self, **kw: (setattr(self, "embedder", Fake()), setattr(self, "_calibration", [
        {"target": "thing", "answer": "thing", "label": 1}, {"target": "thing", "answer": "no", "label": 0}]),
        setattr(self, "threshold", None), setattr(self, "calibration_accuracy", None))[0])
    summary = run_bench(config(tmp_path, judge="embed"), backend=DummyBackend(knows_targets))
    row = json.loads((Path(summary["data"][0]).parent / "out" / "results.jsonl").read_text().splitlines()[0])
    assert set(row["verdicts"]) == {"match", "embed"}
    assert summary["judges"]["embed"]["agreement_with_match"] is not None


def test_multiturn_data_with_distractor_turns(tmp_path: Path) -> None:
    rows = [{"preference": f"I only drink tea {i}.", "question": "What should I order at a cafe?", "subject": "drink", "target": f"thing{i}"}
            for i in range(2)]
    path = tmp_path / "mt.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    cfg = config(tmp_path, data=(str(path),), methods=("prompt", "zero-shot"), turns=(0, 2), distractors=str(distractors(tmp_path)))
    summary = run_bench(cfg, backend=DummyBackend(knows_targets))
    assert {(r["method"], r["query_type"], r["turns"]) for r in summary["results"]} == {
        (m, "multiturn", t) for m in ("prompt", "zero-shot") for t in (0, 2)}
    rows_out = [json.loads(x) for x in (Path(cfg.out) / "results.jsonl").read_text().splitlines()]
    two = next(r["prompt"] for r in rows_out if r["method"] == "prompt" and r["turns"] == 2)
    assert two.index("I only drink tea") < two.index("question 1") < two.index("What should I order")
    zero = next(r["prompt"] for r in rows_out if r["method"] == "zero-shot" and r["turns"] == 2)
    assert "I only drink tea" not in zero and "question 1" in zero


def test_each_method_runs_in_its_own_process_by_default(tmp_path: Path) -> None:
    cfg = config(tmp_path, isolate=True, limit=1, query_types=("explicit",))
    summary = run_bench(cfg)  # no backend given: one worker process per method
    eff = {e["method"]: e for e in summary["efficiency"]}
    assert eff["prompt"]["isolated"] and eff["prompt"]["peak_rss_mb"] > 0
    assert sum(r["n"] for r in summary["results"]) == 2
