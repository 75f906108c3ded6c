"""Prompts of the chat and paper protocols, and the prompting methods' contexts."""

from __future__ import annotations

from prefedit.bench.backends import DummyBackend
from prefedit.bench.methods import ContextInput, get_method
from prefedit.bench.tasks.prompts import PAPER_SYSTEM_PROMPT, Context, render_query
from prefedit.models.chat import DEFAULT_SYSTEM_PROMPT
from prefedit.preferences.types import Preference

PREF = Preference(id="p", statement="I climb rocks on weekends.", subject="hobby", target="rock climbing")
PAIRS = [("first distractor?", "first answer"), ("second distractor?", "second answer"), ("third?", "third answer")]


def render(method: str, qtype: str = "explicit", turns: int = 0, protocol: str = "chat") -> tuple[str, int]:
    m = get_method(method)
    ctx = m.context(ContextInput(preference=PREF, query_type=qtype, question="Q?", reply="Nice!")) if m.context else Context()
    return render_query(DummyBackend(), protocol, ctx, question="Q?", query_type=qtype, turns=turns, pairs=PAIRS, target=PREF.target)


def test_chat_protocol_uses_the_fixed_system_prompt_for_every_method() -> None:
    for method in ("zero-shot", "prompt", "reminder", "rome", "paper-ice"):
        prompt, budget = render(method)
        assert prompt.startswith(f"<system>\n{DEFAULT_SYSTEM_PROMPT}") and budget == 48


def test_prompt_method_puts_the_preference_in_the_system_prompt_for_every_query_type() -> None:
    for qtype in ("explicit", "paraphrased", "implicit", "recommendation"):
        system = render("prompt", qtype)[0].split("<user>")[0]
        assert PREF.statement in system


def test_multiturn_layout_prompting_sees_turn_one_editors_only_distractors() -> None:
    prompt = render("prompt", turns=2)[0]
    order = [prompt.index(s) for s in (PREF.statement, "Nice!", "first distractor?", "second distractor?", "Q?")]
    assert order == sorted(order) and "third?" not in prompt
    edited = render("rome", turns=2)[0]
    assert PREF.statement not in edited and "Nice!" not in edited and "second distractor?" in edited


def test_reminder_appends_a_sentence_to_the_question() -> None:
    prompt = render("reminder")[0]
    assert "Q? In your response, please ensure" in prompt


def test_paper_ice_omits_the_preference_on_implicit_and_recommendation() -> None:
    assert PREF.statement in render("paper-ice", "explicit", protocol="paper")[0]
    assert PREF.statement in render("paper-ice", "paraphrased", protocol="paper")[0]
    assert PREF.statement not in render("paper-ice", "implicit", protocol="paper")[0]
    assert PREF.statement not in render("paper-ice", "recommendation", protocol="paper")[0]


def test_paper_protocol_raw_prompts_and_target_length_budgets() -> None:
    prompt, budget = render("rome", "explicit", protocol="paper")
    assert prompt == "Q?" and budget == 2  # "rock climbing": 2 dummy tokens, +0 for explicit
    assert render("rome", "implicit", protocol="paper") == ("Q?", 10)
    prompt, budget = render("rome", "recommendation", protocol="paper")
    assert PAPER_SYSTEM_PROMPT in prompt and "<assistant>" in prompt and budget == 10


def test_rag_retrieves_the_closest_stored_preferences() -> None:
    class Fake:
        def encode(self, texts):  # 2-d "embedding": does the text mention climbing?
            import numpy as np

            v = np.array([[1.0, 0.1] if "climb" in t.lower() else [0.1, 1.0] for t in texts])
            return v / np.linalg.norm(v, axis=1, keepdims=True)

    x = ContextInput(preference=PREF, query_type="explicit", question="Where should I climb?", reply="",
                     stored=(PREF.statement, "I have a cat."), user_turns=("tell me a joke", "I love climbing gyms"), embedder=Fake())
    ctx = get_method("rag").context(x)
    assert "I climb rocks" in ctx.system_extra and "climbing gyms" in ctx.system_extra


def test_retention_probes_are_asked_in_the_chat_form_whatever_the_protocol() -> None:
    from prefedit.bench.probes import retention_probes, retention_prompts
    from prefedit.bench.tasks.prompts import render_probe

    backend = DummyBackend()
    probes = retention_probes()
    prompts = retention_prompts(backend, probes)
    assert len(prompts) == len(probes) == 30
    assert prompts == [render_probe(backend, "chat", Context(), q.question) for q in probes]
    assert all(p.startswith(f"<system>\n{DEFAULT_SYSTEM_PROMPT}") and budget == 48 for p, budget in prompts)
