"""Bench methods: prompting baselines, fine-tuning baselines, every registered editor (with our
chat planner), the reference's presets, and ``prefedit`` (our default).

A method either changes the prompt (``context``) or computes one Delta per preference
(``delta``). Prompting methods keep the fixed system prompt and add to it; in the multi-turn
layout they see the preference as turn 1 with the model's own reply. Editors see only the
distractors and the question. ``prefedit bench --list-methods`` prints each with its line.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prefedit.bench.paper_presets import CLUSTER_PRESET, PRESETS
from prefedit.bench.tasks.prompts import Context
from prefedit.deltas import Delta
from prefedit.errors import UnknownNameError
from prefedit.personalize import DEFAULT_METHOD, MethodSpec, method_spec
from prefedit.preferences.types import Preference

REMINDER = (
    " In your response, please ensure that you take into account our earlier discussion, and provide an answer "
    "that is consistent with my preference."
)
ICE_PREFIX = (
    "User preference: {statement}\nAnswer the following question based on the user preference. "
    "Do not repeat the question or provide any explanation.\n"
)
ICE_TYPES = ("explicit", "paraphrased", "multiturn")  # the reference adds its prefix to these only
RAG_TOP_K = 3


@dataclass(frozen=True)
class ContextInput:
    """What a prompting method may use to build its context for one question."""

    preference: Preference
    query_type: str
    question: str
    reply: str = ""  # the model's own reply to the statement (turn 1)
    stored: tuple[str, ...] = ()  # the user's stored (active) preference statements
    user_turns: tuple[str, ...] = ()  # earlier user turns of the conversation (distractors)
    embedder: Any = None


@dataclass(frozen=True, kw_only=True)
class BenchMethod:
    """A method under test. ``kind``: ``none`` (zero-shot), ``prompt``, ``edit`` or ``sft``."""

    name: str
    description: str
    kind: str
    context: Callable[[ContextInput], Context] | None = None
    editor: str | None = None  # registry name, for editors and presets
    spec: Callable[[Any, int], tuple[MethodSpec, list[str]]] | None = None  # (lm, seed) -> (spec, dropped overrides)
    needs_cluster: bool = False
    needs_embedder: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def edits(self) -> bool:
        return self.kind in ("edit", "sft")


def _stored_text(x: ContextInput) -> str:
    texts = x.stored or (x.preference.statement,)
    return " ".join(f'"{t}"' for t in texts)


def _prompt(x: ContextInput) -> Context:
    return Context(system_extra=f"The user told you about themselves: {_stored_text(x)}", statement=(x.preference.statement, x.reply))


def _reminder(x: ContextInput) -> Context:
    return Context(system_extra=_prompt(x).system_extra, statement=(x.preference.statement, x.reply), question_suffix=REMINDER)


def rag_top(x: ContextInput, k: int = RAG_TOP_K) -> list[str]:
    """Top-k of the stored preferences and every earlier user turn by MiniLM cosine to the question."""
    pool = list(dict.fromkeys([*(x.stored or (x.preference.statement,)), x.preference.statement, *x.user_turns]))
    vecs = x.embedder.encode([x.question, *pool])
    sims = vecs[1:] @ vecs[0]
    order = sorted(range(len(pool)), key=lambda i: (-float(sims[i]), i))
    return [pool[i] for i in order[:k]]


def _rag(x: ContextInput) -> Context:
    lines = "\n".join(f"- {t}" for t in rag_top(x))
    return Context(system_extra=f"Relevant things the user said earlier:\n{lines}", statement=(x.preference.statement, x.reply))


def _ice(x: ContextInput) -> Context:
    if x.query_type not in ICE_TYPES:
        return Context()
    return Context(user_prefix=ICE_PREFIX.format(statement=x.preference.statement))


def _none(x: ContextInput) -> Context:
    return Context()


def _editor_spec(name: str) -> Callable[[Any, int], tuple[MethodSpec, list[str]]]:
    def make(lm: Any, seed: int) -> tuple[MethodSpec, list[str]]:
        import dataclasses

        from prefedit.editing import get_editor
        from prefedit.personalize import method_spec

        spec = method_spec(name)
        fields = {f.name for f in dataclasses.fields(get_editor(spec.editor).config_class)}
        if "seed" in fields:  # --seed reaches the editor's own optimisation
            spec = dataclasses.replace(spec, editor_overrides={**spec.editor_overrides, "seed": seed})
        return spec, []

    return make


def _paper_spec(name: str) -> Callable[[Any, int], tuple[MethodSpec, list[str]]]:
    def make(lm: Any, seed: int) -> tuple[MethodSpec, list[str]]:
        from prefedit.bench.paper_presets import paper_spec

        return paper_spec(name, lm, seed)

    return make


def _fixed() -> dict[str, BenchMethod]:
    fixed = [
        BenchMethod(name="zero-shot", kind="none", context=_none, description="the base model, no preference anywhere (the floor)"),
        BenchMethod(name="prompt", kind="prompt", context=_prompt,
                    description="the preference in the system prompt for every query type (and stated as turn 1)"),
        BenchMethod(name="rag", kind="prompt", context=_rag, needs_embedder=True,
                    description="MiniLM top-3 of the user's stored preferences and earlier user turns, in the system prompt"),
        BenchMethod(name="reminder", kind="prompt", context=_reminder,
                    description="prompt, plus a reminder sentence appended to the question (PrefEval's reminder)"),
        BenchMethod(name="sft-full", kind="sft", description="full fine-tuning on the preference's QA pairs (8 epochs, Adam)"),
        BenchMethod(name="sft-lora", kind="sft", description="LoRA fine-tuning (peft, r 8, every layer) on the preference's QA pairs"),
        BenchMethod(name=DEFAULT_METHOD, kind="edit", editor=method_spec(DEFAULT_METHOD).editor, spec=_editor_spec(DEFAULT_METHOD),
                    description="our default: a GRACE codebook at 2/3 depth keyed on the answer-start token of chat-templated "
                    "template questions (explicit, paraphrased, implicit, recommendation) and on some of them asked raw, "
                    "radii widened toward generic guard questions and with the token's position; prompts far from them are untouched"),
        BenchMethod(name="paper-ice", kind="prompt", context=_ice,
                    description="the reference's ICE prompt as released: the preference is given only for explicit and "
                    "paraphrased (and multi-turn) questions, omitted for implicit and recommendation questions"),
        BenchMethod(name=CLUSTER_PRESET, kind="edit", editor="rome", spec=_paper_spec(CLUSTER_PRESET), needs_cluster=True,
                    description="the reference's ROME over the 9 cluster variants of each item, edited one after another "
                    "(needs a *_cluster9 file; accumulates across items only in sequential mode)"),
    ]
    fixed += [BenchMethod(name=p.name, kind="edit", editor=p.editor, spec=_paper_spec(p.name), description=p.description)
              for p in PRESETS.values()]
    return {m.name: m for m in fixed}


def _editors() -> Any:
    from prefedit.editing import EDITORS

    return EDITORS


def method_names() -> list[str]:
    """Every valid method name, fixed ones first, then the registered editors."""
    fixed = _fixed()
    return [*fixed, *(e for e in _editors().names() if e not in fixed)]


def get_method(name: str) -> BenchMethod:
    """A method by name; an unknown name lists the closest match and every valid name."""
    fixed = _fixed()
    if name in fixed:
        return fixed[name]
    editors = _editors()
    if name in editors:
        return BenchMethod(name=name, kind="edit", editor=name, spec=_editor_spec(name),
                           description=f"{editors.help(name)}; our chat planner (explicit question, last-token key)")
    names = method_names()
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.0)
    raise UnknownNameError(
        f"unknown method {name!r}" + (f" (closest match: {close[0]!r})" if close else "") + f"; valid methods: {', '.join(names)}",
        hint="prefedit bench --list-methods describes each",
    )


def describe_methods() -> list[tuple[str, str]]:
    """(name, one-line description) of every method."""
    return [(n, get_method(n).description) for n in method_names()]


def compute_delta(method: BenchMethod, lm: Any, pref: Preference, spec: MethodSpec | None, seed: int) -> Delta:
    """One preference's Delta (``lm`` left unchanged); ``info.extra['seconds']`` holds the time spent."""
    import torch

    torch.manual_seed(seed)
    if method.name == "sft-full":
        from prefedit.bench.sft import SftConfig, full_delta

        return full_delta(lm, pref, SftConfig(seed=seed))
    if method.name == "sft-lora":
        from prefedit.bench.sft import SftConfig, lora_delta

        return lora_delta(lm, pref, SftConfig(seed=seed))
    if method.name == CLUSTER_PRESET:
        from prefedit.bench.paper_presets import cluster_delta

        return cluster_delta(lm, pref, spec)  # type: ignore[arg-type]
    from prefedit.personalize import preference_delta

    return preference_delta(lm, pref, method.name, spec=spec)


def supports_batch(method: BenchMethod) -> bool:
    """Whether the method's editor can compute all items' edits at once."""
    if not method.edits or method.kind == "sft" or method.needs_cluster:
        return False
    cls = _editors().get(method.editor)
    return "batch" in getattr(cls, "modes", ())


def batch_delta(method: BenchMethod, lm: Any, prefs: Sequence[Preference], spec: MethodSpec) -> Delta:
    """Every preference's plan (as ``preference_delta`` makes it) merged into one, computed in one editor call."""
    import time

    from prefedit.editing.base import EditPlan
    from prefedit.personalize import editor_for, plan_for

    start = time.perf_counter()
    plans = [plan_for(lm, p, spec) for p in prefs]
    plan = EditPlan(requests=tuple(r for pl in plans for r in pl.requests),
                    kl_prompts=tuple(dict.fromkeys(k for pl in plans for k in pl.kl_prompts)), style=spec.style)
    editor, config = editor_for(lm, spec)
    delta = editor.compute(lm, plan, config)
    delta.info.extra = {**delta.info.extra, "method": method.name, "seconds": time.perf_counter() - start, "requests": len(plan.requests)}
    return delta
