"""A tiny real bench run on SmolLM2-135M-Instruct (2 UPQA items x 2 methods), and the retention
probe set's claim that the base model answers every probe correctly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from prefedit.bench import BenchConfig, HFBackend, run_bench

pytestmark = pytest.mark.smollm2


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # shared test machines oversubscribe threads
    yield
    torch.set_num_threads(old)


def test_two_items_two_methods(smollm2, shared_data: Path, tmp_path: Path) -> None:
    before = {k: v.clone() for k, v in smollm2.model.state_dict().items()}
    cfg = BenchConfig(data=(str(shared_data / "upqa" / "balanced_subset.json"),), methods=("prompt", "ft-m"), out=str(tmp_path / "run"),
                      limit=2, query_types=("explicit", "paraphrased"), retention=False, other_item_probes=2, isolate=False)
    summary = run_bench(cfg, backend=HFBackend(smollm2))
    acc = {(r["method"], r["query_type"]): r["accuracy"] for r in summary["results"]}
    assert acc[("ft-m", "explicit")] >= 0.5  # the edit writes the target for its own question
    assert all(torch.equal(before[k], v) for k, v in smollm2.model.state_dict().items())
    base = json.loads((tmp_path / "run" / "cache" / "base_chat.json").read_text())
    assert sum(v["forced"] for v in base.values()) >= 0.9 * len(base)  # teacher-forced locality, not generation
    loc = {(r["method"], r["kind"]): r for r in summary["locality"]}
    assert loc[("ft-m", "unrelated")]["n"] == 40 and loc[("ft-m", "other-users")]["n"] == 4
    eff = {e["method"]: e for e in summary["efficiency"]}
    assert eff["ft-m"]["seconds_per_preference"] > 0 and eff["prompt"]["seconds_per_preference"] is None
    assert (tmp_path / "run" / "report.md").is_file()


def test_base_model_answers_every_retention_probe(smollm2) -> None:
    from prefedit.bench.probes import retention_accuracy, retention_probes, retention_prompts

    backend = HFBackend(smollm2)
    probes = retention_probes()
    prompts = retention_prompts(backend, probes)
    answers = backend.generate([p for p, _ in prompts], [b for _, b in prompts])
    assert retention_accuracy(answers, probes) == 1.0
