"""personalize(): from a user's preferences to one Delta per user, with exact update and forget.

Each preference is edited on its own (a pure function of the base model, the preference and
the method) and a user's delta is the composition of their active preferences' deltas. So
forgetting or superseding a preference only drops its delta: the result equals, bit for bit,
a fresh ``personalize`` of the remaining preferences. The cost is that edits are computed
independently rather than sequentially (measured in the bench's per-user mode).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from prefedit.deltas import Delta, compose
from prefedit.editing.base import EDITORS, EditPlan, get_editor
from prefedit.editing.plan import plan_preference
from prefedit.errors import ConfigError, DataError, UnknownNameError
from prefedit.models.chat import DEFAULT_SYSTEM_PROMPT
from prefedit.preferences.types import Preference

log = logging.getLogger(__name__)

DEFAULT_METHOD = "prefedit"


@dataclass(frozen=True, kw_only=True)
class MethodSpec:
    """How a personalization method plans and edits."""

    editor: str = field(metadata={"help": "registry name of the editor"})
    style: str = field(default="chat", metadata={"help": "plan style: chat (ours) or subject (reference)"})
    builders: tuple[str, ...] = field(default=(), metadata={"help": "cluster builders; () = explicit question only"})
    max_requests: int = field(default=8, metadata={"help": "cap on explicit/paraphrased questions per preference"})
    implicit: int = field(default=0, metadata={"help": "implicit-style template questions added to the plan"})
    recommendation: int = field(default=0, metadata={"help": "recommendation-style template questions added to the plan"})
    answers: str = field(default="cluster", metadata={"help": "answer variants from the cluster, or the bare target"})
    raw: int = field(default=0, metadata={"help": "explicit/paraphrased questions (plus the implicit and recommendation ones) also keyed as raw completion prompts"})
    systems: tuple[str, ...] = field(default=(), metadata={"help": "other system prompts the questions are also keyed under"})
    system: str = field(default=DEFAULT_SYSTEM_PROMPT, metadata={"help": "the system prompt the deployment answers with; chat questions are keyed under it"})
    guard: int = field(default=0, metadata={"help": "generic corpus questions under the system prompt that a codebook edit must not fire on (its radii are capped)"})
    guard_requests: int = field(default=0, metadata={"help": "shipped generic chat requests (instructions, follow-ups, small talk) added to the guard prompts"})
    editor_overrides: dict[str, Any] = field(default_factory=dict, metadata={"help": "editor config fields to override"})


GUARD_QUESTIONS = 128  # of the 133 questions of the shipped chat corpus
GUARD_REQUESTS = 256  # all of prefedit/data/guard_requests.json


def method_spec(method: str) -> MethodSpec:
    """The MethodSpec of ``prefedit`` (our default) or of a bare editor name (chat plan, explicit question)."""
    if method == DEFAULT_METHOD:
        # Our best measured default: a GRACE codebook (Hartvigsen et al., 2023) at 2/3 depth,
        # keyed on the answer-start token of the chat-templated template questions of the
        # preference (up to 16 explicit and paraphrase variants, 6 implicit, 3 recommendation) and
        # on the last token of the same questions asked raw (no template), each entry answering
        # the bare target, with a deferral radius of half the key's norm. Prompts whose key is farther than that from every entry are computed
        # exactly as before. The values are trained on 2 entries per target first, every entry
        # starts from their mean value and stops on its own once its target NLL is below 0.05
        # (2.1x faster than training all entries until the slowest converges:
        # benchmarks/prefedit_value_speed.py). Entries answering the same target up to spaces
        # (" Lisbon" raw, "Lisbon" chat) do not cut each other's radius, and radii widen with the
        # token's position from 96 tokens on (x max(1, p/96)^0.12: x1.17 after two distractor
        # turns, x1.44 after ten), so an edit still fires when its question comes many turns into
        # a conversation (benchmarks/key_position.py, method_screen.py --turns 2,4,10). Each entry
        # also gets a fixed wide radius of up to 1.4x, short of 0.9 of the distance from its key
        # to the nearest of 128 generic guard questions, which reaches implicit questions just
        # outside the plain radius and which the position growth does not compound
        # (benchmarks/key_guard.py --widen 1.4); under a deployment's system prompt only the raw
        # copies keep that widening, against the same guard questions asked raw (with all 16
        # questions raw, 30/30/23 of 30 explicit/paraphrased/implicit raw questions in reach instead
        # of 29/14/13, no unrelated probe: benchmarks/key_guard_raw.py). The value search runs in bfloat16 on a cast copy
        # of the model where the device computes that fast (compute_dtype "auto"; keys and values
        # from the copy, answers from the model as loaded), and the warm-start picks train at
        # 4x the learning rate (only their shared starting value rides on it): 4.8 -> 2.0 s per
        # preference on SmolLM2 on one CPU thread with 3x, the 12-item screen's answers as good or
        # better (benchmarks/prefedit_value_speed.py, method_screen.py); 4x instead of 3x saves
        # about 5% more (prefedit_value_speed.py --against warm3). The guard rule (guard_ratio
        # 1.0): within the 1.4x radius an entry also fires on a token nearer to it than to every
        # guard key, which reaches implicit questions that lie farther from every entry than a
        # fixed radius allows but nearer to the user's entries than to anything generic. The
        # guards are the 128 corpus questions and 256 generic requests of ours (instructions,
        # follow-ups, small talk), so the widened reach spares real chat requests too (keys
        # only, 30 items: implicit questions in reach 25 -> 28 of 30, real chat requests in reach
        # 8.7% -> 3.9%, probes 0.5% both: benchmarks/key_guard.py --guard-requests 256
        # --guard-ratios 1.0 --chats 300). docs/personalize.md has the measured tables and the
        # commands.
        return MethodSpec(
            editor="grace",
            builders=("templates",),
            max_requests=16,
            implicit=6,
            recommendation=3,
            answers="target",
            raw=16,
            editor_overrides={"layer": 0.66, "radius": 0.5, "early_stop_nll": 0.05, "warm_start": 2, "warm_lr": 4.0, "per_request_stop": True,
                              "split_labels": "stripped", "grow_from": 96.0, "grow_power": 0.12,
                              "guard_cap": False, "widen": 1.4, "widen_margin": 0.9, "guard_ratio": 1.0,
                              "compute_dtype": "auto"},
            guard=GUARD_QUESTIONS,
            guard_requests=GUARD_REQUESTS,
        )
    import prefedit.editing  # noqa: F401  (registers the editors)

    if method in EDITORS:
        return MethodSpec(editor=method)
    raise UnknownNameError(EDITORS.unknown_message(method).replace("unknown editor", "unknown method") + f", {DEFAULT_METHOD!r}")


def with_system(spec: MethodSpec, system: str | None) -> MethodSpec:
    """``spec`` keyed under the deployment's system prompt ``system`` (unchanged when None).

    The codebook radius (half the key's norm) was calibrated under prefedit's own system prompt.
    Under another one the answer-start keys of all questions can crowd together (under a
    two-sentence persona prompt, 13% of unrelated prompts fell inside some entry's radius), so
    the plan also gets GUARD_QUESTIONS guard prompts that cap the radii
    (benchmarks/key_guard.py, docs/personalize.md "Deployment system prompt").
    """
    if system is None or system == spec.system:
        return spec
    if not system.strip():
        raise ConfigError("the system prompt is empty", hint="pass the text the deployment puts in its system message")
    overrides = spec.editor_overrides
    if "guard_cap" in overrides:  # crowded keys: the guards cap every radius, and no templated one widens (key_guard.py --widen)
        # raw-prompt entries carry no system prompt, so they keep their widening (against the raw
        # guards); the guard rule is off, since under the reference's terse system prompt it
        # changed 2 of 20 raw unrelated prompts of a city edit (tests/slow/test_prefedit_smollm2.py)
        raw_widen = overrides.get("raw_widen") or overrides.get("widen", 1.0)
        overrides = {**overrides, "guard_cap": True, "widen": 1.0, "raw_widen": raw_widen, "guard_ratio": 0.0}
    return replace(spec, system=system, guard=spec.guard or GUARD_QUESTIONS, editor_overrides=overrides)


def plan_for(lm: Any, pref: Preference, spec: MethodSpec) -> EditPlan:
    """The EditPlan ``spec`` makes for one preference (its cluster built first, if any).

    Edits see only what the user said (statement, subject, target, given cluster data), never
    the evaluation questions attached to a benchmark item.
    """
    pref = replace(pref, questions={})
    cluster = None
    if spec.builders:
        from prefedit.preferences.clusters import build_cluster

        cluster = build_cluster(pref, builders=spec.builders, lm=lm)
    return plan_preference(
        lm.tokenizer,
        pref,
        style=spec.style,  # type: ignore[arg-type]
        cluster=cluster,
        max_requests=spec.max_requests,
        implicit=spec.implicit,
        recommendation=spec.recommendation,
        answers=spec.answers,  # type: ignore[arg-type]
        raw=spec.raw,
        systems=spec.systems,
        system=spec.system,
        guard=spec.guard,
        guard_requests=spec.guard_requests,
    )


def editor_for(lm: Any, spec: MethodSpec) -> tuple[Any, Any]:
    """``spec``'s editor and its config for ``lm`` (the editor's defaults with the overrides)."""
    editor = get_editor(spec.editor)
    config = editor.default_config(lm)
    return editor, replace(config, **spec.editor_overrides) if spec.editor_overrides else config


def preference_delta(lm: Any, pref: Preference, method: str = DEFAULT_METHOD, *, spec: MethodSpec | None = None) -> Delta:
    """The Delta of one preference (pure: ``lm`` is left unchanged). Records seconds spent."""
    spec = spec or method_spec(method)
    start = time.perf_counter()
    plan = plan_for(lm, pref, spec)
    editor, config = editor_for(lm, spec)
    delta = editor.compute(lm, plan, config)
    delta.info.preference_ids = [pref.id]
    delta.info.extra = {**delta.info.extra, "method": method, "seconds": time.perf_counter() - start, "requests": len(plan.requests),
                       "system_prompt": spec.system}
    return delta


def active_preferences(prefs: Sequence[Preference]) -> list[Preference]:
    """Drop preferences superseded by a later one (``supersedes`` names the replaced id)."""
    ids = {p.id for p in prefs}
    for p in prefs:
        if p.supersedes and p.supersedes not in ids:
            raise DataError(f"preference {p.id!r} supersedes {p.supersedes!r}, which this user does not have")
    replaced = {p.supersedes for p in prefs if p.supersedes}
    return [p for p in prefs if p.id not in replaced]


def personalize(lm: Any, prefs: Sequence[Preference], method: str = DEFAULT_METHOD, *, system: str | None = None) -> dict[str, Delta]:
    """One composed Delta per user id over that user's active preferences.

    ``system``: the system prompt the deployment answers with (default: prefedit's); the edits
    are keyed under it, so they fire where the model is asked under it.
    """
    by_user: dict[str, list[Preference]] = {}
    for p in prefs:
        by_user.setdefault(p.user_id, []).append(p)
    spec = with_system(method_spec(method), system)
    out = {}
    for user, items in by_user.items():
        deltas = [preference_delta(lm, p, method, spec=spec) for p in active_preferences(items)]
        out[user] = compose(deltas, editor=method)
    return out
