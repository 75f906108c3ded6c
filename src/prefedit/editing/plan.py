"""The edit planner: from a preference (and its cluster) to edit requests.

``chat`` (ours): every question variant is rendered with the tokenizer's chat template and the
fixed system prompt (the same the chat protocol uses), the key is the last prompt token, so the
edit does not depend on the subject word appearing in the question. A chat plan may add ``raw``
copies of its questions: the bare question as a completion prompt (no template), key at its
last token, target with a leading space, for callers that prompt the model without a template.
A chat plan may also add ``systems`` copies: the same questions under other system prompts, since
a system prompt moves the answer-start key by about 0.6 of its norm (benchmarks/key_system_prompt.py),
beyond the codebook radius; applications that answer under a terse system prompt need them.
``subject`` (the reference's setting): raw question, key at the subject's last token, target
with a leading space.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from prefedit.editing.anchors import guard_prompts_text
from prefedit.editing.base import EditPlan, EditRequest
from prefedit.errors import EditError
from prefedit.models.chat import DEFAULT_SYSTEM_PROMPT, chat_prompt, raw_prompt

PlanStyle = Literal["chat", "subject"]
SYSTEM_COPIES = 3  # explicit/paraphrased questions repeated under each extra system prompt


def plan_requests(
    tokenizer: Any,
    *,
    questions: Sequence[str],
    answers: Sequence[str],
    subject: str,
    preference_id: str | None = None,
    style: PlanStyle = "chat",
    system: str = DEFAULT_SYSTEM_PROMPT,
) -> list[EditRequest]:
    """One request per question; answers are cycled over the questions."""
    if not questions or not answers:
        raise EditError("a plan needs at least one question and one answer")
    reqs = []
    for i, q in enumerate(dict.fromkeys(questions)):
        answer = answers[i % len(answers)]
        if style == "chat":
            reqs.append(EditRequest(prompt=chat_prompt(tokenizer, q, system=system), target=answer, preference_id=preference_id))
        else:
            if subject not in q:
                continue  # the reference skips variants without its key token; so do we
            reqs.append(EditRequest(prompt=q, target=" " + answer.strip(), key="subject", subject=subject, preference_id=preference_id, raw=True))
    if not reqs:
        raise EditError(f"no question mentions the subject {subject!r}, so a subject-keyed plan is empty")
    return reqs


def kl_prompts_for(tokenizer: Any, subject: str, style: PlanStyle = "chat") -> tuple[str, ...]:
    """ROME's "essence" prompt: the subject alone, whose meaning should not drift."""
    if style == "subject":
        return (f"{subject} is a",)
    return (chat_prompt(tokenizer, f"What does the word '{subject}' mean?"),)


def plan_preference(
    tokenizer: Any,
    pref: Any,
    *,
    style: PlanStyle = "chat",
    cluster: Any = None,
    max_requests: int | None = None,
    implicit: int = 0,
    recommendation: int = 0,
    answers: Literal["cluster", "target"] = "cluster",
    raw: int = 0,
    systems: Sequence[str] = (),
    system: str = DEFAULT_SYSTEM_PROMPT,
    guard: int = 0,
    guard_requests: int = 0,
) -> EditPlan:
    """An EditPlan for one Preference.

    Questions: the cluster's explicit/paraphrased questions (else the explicit question), capped
    at ``max_requests``, plus up to ``implicit`` and ``recommendation`` questions from the
    cluster's implicit and recommendation variants (chat style only: they rarely name the
    subject). Answers: the cluster's answer variants, or the bare target (``answers="target"``);
    implicit and recommendation questions are always answered with the target. ``raw`` (chat
    style): the first ``raw`` explicit/paraphrased questions and every implicit and
    recommendation question again as raw completion prompts answering the target. ``systems``
    (chat style): the first 3 explicit/paraphrased questions and every implicit and
    recommendation question again under each of these system prompts, answering the target.
    ``system``: the system prompt every chat question is asked under (the deployment's).
    ``guard`` (chat style): that many questions of the shipped chat corpus, under ``system``, as
    the plan's guard prompts (and, with ``raw``, the same questions as raw prompts), followed by
    ``guard_requests`` of the shipped generic requests (``anchors.guard_requests``), treated alike.
    """
    questions = list(cluster.questions) if cluster is not None and cluster.questions else [pref.explicit_question]
    questions = questions[:max_requests] if max_requests else questions
    answer_pool = list(cluster.answers) if answers == "cluster" and cluster is not None and cluster.answers else [pref.target]
    reqs = plan_requests(tokenizer, questions=questions, answers=answer_pool, subject=pref.subject, preference_id=pref.id, style=style, system=system)
    if style != "chat":
        return EditPlan(requests=tuple(reqs), kl_prompts=kl_prompts_for(tokenizer, pref.subject, style), style=style)
    extra = list(getattr(cluster, "implicit", ()))[:implicit] + list(getattr(cluster, "recommendation", ()))[:recommendation]
    more = plan_requests(tokenizer, questions=extra, answers=[pref.target], subject=pref.subject, preference_id=pref.id, system=system) if extra else []
    unique = list(dict.fromkeys(questions))
    more += [EditRequest(prompt=raw_prompt(tokenizer, q), target=" " + pref.target.strip(), preference_id=pref.id, raw=True)
             for q in [*unique[:raw], *extra]] if raw else []
    for other in systems:
        more += plan_requests(tokenizer, questions=[*unique[:SYSTEM_COPIES], *extra], answers=[pref.target],
                              subject=pref.subject, preference_id=pref.id, system=other)
    seen = {r.prompt for r in reqs}
    for r in more:
        if r.prompt not in seen:
            reqs.append(r)
            seen.add(r.prompt)
    guard_questions = guard_prompts_text(guard, guard_requests)
    guards = tuple(chat_prompt(tokenizer, q, system=system) for q in guard_questions)
    if raw:  # the raw copies are guarded by the same questions asked raw
        guards += tuple(raw_prompt(tokenizer, q) for q in guard_questions)
    return EditPlan(requests=tuple(reqs), kl_prompts=kl_prompts_for(tokenizer, pref.subject, style), style=style, guard_prompts=guards)
