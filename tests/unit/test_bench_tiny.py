"""Bench with real (tiny, random) models: edits are applied per item and the model is restored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from prefedit.bench import BenchConfig, HFBackend, run_bench
from prefedit.bench.sft import SftConfig, full_delta, lora_delta
from prefedit.deltas import applied_deltas
from prefedit.preferences.types import Preference


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models gain nothing from threads, and the shared test machines oversubscribe them."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def data(tmp: Path, rows: list[dict]) -> str:
    path = tmp / "d.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return str(path)


def row(i: int, **extra: object) -> dict:
    return {"input_attribute": f"My pet is a cat {i}.", "attribute_type": "pet", "question": "What is my pet?",
            "implicit_question": "What food to buy?", "target": f"cat{i}", **extra}


def state(lm) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in lm.model.state_dict().items()}


def test_editing_methods_leave_the_model_as_they_found_it(tiny, tmp_path: Path) -> None:
    lm = tiny("llama")
    before = state(lm)
    cfg = BenchConfig(data=(data(tmp_path, [row(0), row(1)]),), methods=("rome", "sft-lora", "grace"), out=str(tmp_path / "o"),
                      isolate=False, retention_checkpoints=(1,), query_types=("explicit",))
    summary = run_bench(cfg, backend=HFBackend(lm))
    assert not applied_deltas(lm)
    assert all(torch.equal(before[k], v) for k, v in lm.model.state_dict().items())
    eff = {e["method"]: e for e in summary["efficiency"]}
    assert eff["rome"]["seconds_per_preference"] > 0 and eff["rome"]["bytes_per_preference"] > 0
    assert eff["grace"]["search_dtype"] == "float32" and eff["rome"]["search_dtype"] is None  # grace says what it searched in
    kinds = {(r["method"], r["kind"]) for r in summary["locality"]}
    assert ("rome", "unrelated") in kinds and ("rome", "other-users") in kinds
    assert {(r["method"], r["edits"]) for r in summary["retention"]} >= {("rome", 0), ("rome", 1), ("sft-lora", 0), ("sft-lora", 1)}


def test_the_report_says_which_methods_computed_their_edit_in_another_dtype() -> None:
    from prefedit.bench.report import render_markdown

    summary = {"protocol": "chat", "judge": "match", "mode": "independent", "model": "m", "data": ["d.json"], "dtype": "float32",
               "results": [], "locality": [], "retention": [],
               "efficiency": [{"method": "prefedit", "seconds_per_preference": 2.0, "peak_rss_mb": 1.0, "bytes_per_preference": 1.0,
                               "search_dtype": "bfloat16"},
                              {"method": "paper-lora", "seconds_per_preference": 9.0, "peak_rss_mb": 1.0, "bytes_per_preference": 1.0}]}
    text = render_markdown(summary)
    assert "## Efficiency (float32 weights for every method)" in text and "| edit computed in |" in text
    assert "| prefedit | 2.00 |" in text and text.split("| prefedit |")[1].split("\n")[0].rstrip().endswith("| bfloat16 |")
    assert text.split("| paper-lora |")[1].split("\n")[0].rstrip().endswith("| float32 |")
    plain = render_markdown({**summary, "efficiency": [{**e, "search_dtype": None} for e in summary["efficiency"]]})
    assert "edit computed in" not in plain


def test_sft_deltas_restore_weights_and_grad_flags(tiny) -> None:
    lm = tiny("llama")
    before = state(lm)
    flags = {n: p.requires_grad for n, p in lm.model.named_parameters()}
    pref = Preference(id="p", statement="My pet is a cat.", subject="pet", target="cat")
    full = full_delta(lm, pref, SftConfig(epochs=2))
    lora = lora_delta(lm, pref, SftConfig(epochs=2))
    assert all(torch.equal(before[k], v) for k, v in lm.model.state_dict().items())
    assert flags == {n: p.requires_grad for n, p in lm.model.named_parameters()}
    assert full.kind == "dense" and lora.kind == "low-rank" and lora.nbytes() < full.nbytes()


def test_per_user_mode_scores_a_superseded_item_on_its_replacement(tiny, tmp_path: Path) -> None:
    rows = [row(0, id="old", user_id="u"), row(1, id="new", user_id="u", supersedes="old"), row(2, id="other", user_id="v")]
    cfg = BenchConfig(data=(data(tmp_path, rows),), methods=("rome", "prompt"), out=str(tmp_path / "o"), isolate=False,
                      mode="per-user", retention=False, locality=False, query_types=("explicit",))
    run_bench(cfg, backend=HFBackend(tiny("llama")))
    results = [json.loads(x) for x in (tmp_path / "o" / "results.jsonl").read_text().splitlines()]
    targets = {(r["method"], r["item"]): r["target"] for r in results}
    assert targets[("rome", "old")] == "cat1" and targets[("rome", "other")] == "cat2"
    prompt_old = next(r["prompt"] for r in results if r["method"] == "prompt" and r["item"] == "old")
    assert "cat 1" in prompt_old and "cat 0" not in prompt_old  # only the active preferences are stored


def test_sequential_mode_accumulates_and_reverts(tiny, tmp_path: Path) -> None:
    lm = tiny("llama")
    before = state(lm)
    cfg = BenchConfig(data=(data(tmp_path, [row(0), row(1), row(2)]),), methods=("rome",), out=str(tmp_path / "o"), isolate=False,
                      mode="sequential", retention_checkpoints=(2,), query_types=("explicit",), locality=False)
    summary = run_bench(cfg, backend=HFBackend(lm))
    assert all(torch.equal(before[k], v) for k, v in lm.model.state_dict().items())
    assert [r["accumulation"] for r in summary["retention"]] == ["none", "sequential"]
    assert summary["results"][0]["n"] == 3


def test_locality_of_an_unedited_model_is_full_agreement(tiny) -> None:
    from prefedit.bench.evaluate import check_probes
    from prefedit.bench.probes import LocalityChecker, Probe

    class Ev:  # the two attributes check_probes reads
        backend = HFBackend(tiny("llama"))
        locality = LocalityChecker(backend, "chat", {})

    probes = [Probe("unrelated", q) for q in ("hi", "what is two plus two", "x")]
    Ev.locality.ensure_base(probes)
    assert check_probes(Ev, probes) == {"unrelated": [3, 3]}  # type: ignore[arg-type]


def test_teacher_forced_check_matches_token_continuations(tiny) -> None:
    backend = HFBackend(tiny("llama"))
    tok, model = backend.tokenizer, backend.lm.model
    ctx = backend.render_chat([{"role": "user", "content": "hi"}])
    ids = tok(ctx, return_tensors="pt", add_special_tokens=False).input_ids
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
    greedy = out[0, ids.shape[1]:].tolist()
    scored = backend._score([(ids[0].tolist(), greedy), (ids[0].tolist(), greedy[:-1] + [(greedy[-1] + 1) % 256])])
    assert [ok for _, ok in scored] == [True, False]


def test_resuming_at_the_edited_layer_scores_like_a_full_pass(tiny) -> None:
    from prefedit.deltas import applied
    from prefedit.personalize import MethodSpec, preference_delta

    lm = tiny("llama")
    full, fast = HFBackend(lm, skip_unchanged_layers=False), HFBackend(lm)
    ctxs = [full.render_chat([{"role": "user", "content": q}]) for q in ("hi there", "what is my pet", "x")]
    requests = [(c, a) for c in ctxs for a in ("cat", "a dog!")]
    spec = MethodSpec(editor="rome", editor_overrides={"layer": 1, "use_covariance": False})
    delta = preference_delta(lm, Preference(id="p", statement="My pet is a cat.", subject="pet", target="cat"), "rome", spec=spec)
    with applied(lm, delta):
        from prefedit.bench.skip import first_changed_layer

        assert first_changed_layer(lm) == 1
        a, b = full.loglikelihood(requests), fast.loglikelihood(requests)
        b_again = fast.loglikelihood(requests)  # from cached states
    assert [x[1] for x in a] == [x[1] for x in b] == [x[1] for x in b_again]
    assert all(abs(x[0] - y[0]) < 1e-3 for x, y in zip(a, b))
    assert type(lm.model.get_submodule(lm.arch.layers_path)[0]).__name__ != "_Passthrough"


@pytest.mark.parametrize(("protocol", "system"), [("chat", "DEFAULT"), ("paper", "PAPER")])
def test_chat_keyed_edits_are_planned_under_the_protocols_system_prompt(tiny, tmp_path: Path, monkeypatch, protocol, system) -> None:
    import prefedit.bench.evaluate as evaluate
    from prefedit.bench.tasks.prompts import PAPER_SYSTEM_PROMPT
    from prefedit.models.chat import DEFAULT_SYSTEM_PROMPT

    seen: dict[str, object] = {}
    real = evaluate.compute_delta

    def spy(method, lm, pref, spec, seed):
        seen[method.name] = spec
        return real(method, lm, pref, spec, seed)

    monkeypatch.setattr(evaluate, "compute_delta", spy)
    cfg = BenchConfig(data=(data(tmp_path, [row(0, product_recommendation_question="Suggest a toy.")]),), methods=("grace", "paper-grace"), out=str(tmp_path / "o"), protocol=protocol,
                      isolate=False, locality=False, retention_checkpoints=(), query_types=("recommendation",))
    run_bench(cfg, backend=HFBackend(tiny("llama")))
    want = {"DEFAULT": DEFAULT_SYSTEM_PROMPT, "PAPER": PAPER_SYSTEM_PROMPT}[system]
    assert seen["grace"].system == want and bool(seen["grace"].guard) == (protocol == "paper")
    assert seen["paper-grace"].style == "subject" and seen["paper-grace"].system == DEFAULT_SYSTEM_PROMPT  # the reference's plan: untouched
