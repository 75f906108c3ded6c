"""Cluster builders: expand one preference into subject synonyms, questions and answers.

Builders are registered by name and combined: ``given`` (variants in the data), ``templates``
(``templates.py``), ``self`` (the model being edited paraphrases) and ``openai`` (any
OpenAI-compatible endpoint). ``build_cluster`` merges their output in order, drops duplicates,
and filters: question variants must stay close to the preference in embedding space and
answers must contain the target. Example::

    cluster = build_cluster(pref, builders=("given", "templates"), embedder=Embedder())
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from prefedit.config import check_range
from prefedit.errors import ConfigError
from prefedit.preferences.templates import TemplateBank, is_core_subject, load_template_bank
from prefedit.preferences.types import Cluster, Preference
from prefedit.registry import Registry

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ClusterConfig:
    """How big a cluster gets and how strictly generated variants are filtered."""

    max_subjects: int = field(default=9, metadata={"help": "Subject synonyms kept (the reference uses 9)."})
    max_questions: int = field(default=24, metadata={"help": "Question variants kept (edit prompts)."})
    max_answers: int = field(default=12, metadata={"help": "Answer variants kept; each contains the target."})
    max_implicit: int = field(default=12, metadata={"help": "Implicit and recommendation questions kept, each."})
    min_similarity: float = field(
        default=0.30,
        metadata={"help": "Drop question variants whose MiniLM cosine to statement + explicit question is lower "
                  "(0.30 keeps ~95% of on-topic template questions and drops ~93% of other families' ones)."},
    )
    min_implicit_similarity: float = field(
        default=0.15, metadata={"help": "The same floor for implicit and recommendation questions, which by design say less."}
    )
    filter_given: bool = field(default=False, metadata={"help": "Also filter variants that come from the data itself."})
    n_generated: int = field(default=8, metadata={"help": "Variants asked of a model per kind (self, openai)."})
    max_new_tokens: int = field(default=192, metadata={"help": "Generation budget per paraphrase request."})
    llm_timeout_s: float = field(default=60.0, metadata={"help": "HTTP timeout for the openai builder."})

    def __post_init__(self) -> None:
        for name in ("max_subjects", "max_questions", "max_answers", "max_implicit", "n_generated", "max_new_tokens"):
            check_range(name, getattr(self, name), 1)
        check_range("min_similarity", self.min_similarity, -1.0, 1.0)
        check_range("min_implicit_similarity", self.min_implicit_similarity, -1.0, 1.0)
        check_range("llm_timeout_s", self.llm_timeout_s, 0.0)


@dataclass(frozen=True, kw_only=True)
class BuildContext:
    """What builders may need besides the preference: a model, an HTTP client, templates."""

    lm: Any = None  # prefedit.models.LoadedModel (``.model``, ``.tokenizer``) for ``self``
    http_client: Any = None  # httpx.Client for ``openai``; one is made when None
    bank: TemplateBank | None = None


ClusterBuilder = Callable[[Preference, ClusterConfig, BuildContext], Cluster]

CLUSTER_BUILDERS: Registry[ClusterBuilder] = Registry("cluster builder")
register_cluster_builder = CLUSTER_BUILDERS.register


@register_cluster_builder("given", help="Variants given in the data: the questions dict and the 9-way clusters.")
def build_given(pref: Preference, config: ClusterConfig, ctx: BuildContext) -> Cluster:
    """The preference's own questions and its given_* cluster fields."""
    q = pref.questions
    return Cluster(
        preference=pref,
        subjects=(pref.subject, *pref.given_subjects),
        questions=(pref.explicit_question, *_present(q.get("paraphrased")), *pref.given_questions),
        answers=(pref.target, *pref.given_targets),
        implicit=_present(q.get("implicit")),
        recommendation=_present(q.get("recommendation")),
        sources=("given",),
    )


def _present(text: str | None) -> tuple[str, ...]:
    return (text,) if text else ()


@register_cluster_builder("templates", help="Built-in question and answer templates of the subject's family.")
def build_templates(pref: Preference, config: ClusterConfig, ctx: BuildContext) -> Cluster:
    """Questions and answers from the subject's template family.

    Subject-free templates ("What do I do for a living?") are used only when the subject is the
    family's own concept, so "father's job" gets "What is my father's job?" but not job paraphrases.
    """
    bank = ctx.bank or load_template_bank()
    fam = bank.family_for(pref.subject)
    core = is_core_subject(pref.subject, fam)
    source = fam if core else bank.generic
    synonyms = fam.subjects if core else ()
    subject, target = pref.subject, pref.target
    questions = [t.format(subject=subject) for t in fam.explicit]
    questions += [fam.explicit[i % len(fam.explicit)].format(subject=s) for i, s in enumerate(synonyms)] if fam.explicit else []
    questions += [t.format(subject=subject) for t in fam.paraphrased if core or "{subject}" in t]
    return Cluster(
        preference=pref,
        subjects=(subject, *synonyms),
        questions=tuple(questions),
        answers=tuple(t.format(subject=subject, target=target) for t in fam.answers if core or t in bank.generic.answers),
        implicit=source.implicit,
        recommendation=source.recommendation,
        sources=("templates",),
    )


CLUSTER_BUILDERS.add("self", "prefedit.preferences.paraphrase:build_self", help="The model being edited paraphrases (needs lm).")
CLUSTER_BUILDERS.add("openai", "prefedit.preferences.paraphrase:build_openai", help="An OpenAI-compatible endpoint paraphrases (PREFEDIT_LLM_*).")


def _key(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(" ?.!")


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for item in items:
        item = " ".join(item.split())
        if item and _key(item) not in seen:
            seen[_key(item)] = item
    return tuple(seen.values())


def merge_clusters(pref: Preference, parts: Sequence[Cluster]) -> Cluster:
    """Concatenate builder outputs in order, keeping the first of each duplicate (case-insensitive)."""
    return Cluster(
        preference=pref,
        subjects=_dedupe(s for c in parts for s in c.subjects),
        questions=_dedupe(s for c in parts for s in c.questions),
        answers=_dedupe(s for c in parts for s in c.answers),
        implicit=_dedupe(s for c in parts for s in c.implicit),
        recommendation=_dedupe(s for c in parts for s in c.recommendation),
        sources=_dedupe(s for c in parts for s in c.sources),
    )


def accepted_targets(pref: Preference) -> tuple[str, ...]:
    """Strings an answer variant may contain to count as giving the target."""
    return tuple(t for t in (pref.target, *pref.aliases, *pref.given_targets) if t.strip())


def _given_keys(pref: Preference) -> set[str]:
    texts = (*pref.questions.values(), *pref.given_questions, pref.explicit_question)
    return {_key(t) for t in texts}


def _keep_close(texts: Sequence[str], sims: np.ndarray, floor: float, protected: set[str]) -> tuple[str, ...]:
    return tuple(t for t, s in zip(texts, sims, strict=True) if s >= floor or _key(t) in protected)


def filter_cluster(cluster: Cluster, config: ClusterConfig, embedder: Any = None) -> Cluster:
    """Drop answers without the target and, with an embedder, questions that drifted off topic.

    Args:
        cluster: the merged cluster.
        config: thresholds (``min_similarity``, ``min_implicit_similarity``, ``filter_given``).
        embedder: anything with ``encode(texts) -> (n, d)`` unit-norm rows; None skips the
            similarity filter.
    """
    pref = cluster.preference
    targets = [t.casefold() for t in accepted_targets(pref)]
    answers = tuple(a for a in cluster.answers if any(t in a.casefold() for t in targets))
    if embedder is None:
        return replace(cluster, answers=answers)
    protected = set() if config.filter_given else _given_keys(pref)
    anchor = embedder.encode([f"{pref.statement} {pref.explicit_question}"])[0]
    groups = [list(cluster.questions), list(cluster.implicit), list(cluster.recommendation)]
    flat = [t for g in groups for t in g]
    sims = embedder.encode(flat) @ anchor if flat else np.zeros(0)
    q, i = len(groups[0]), len(groups[0]) + len(groups[1])
    return replace(
        cluster,
        answers=answers,
        questions=_keep_close(groups[0], sims[:q], config.min_similarity, protected),
        implicit=_keep_close(groups[1], sims[q:i], config.min_implicit_similarity, protected),
        recommendation=_keep_close(groups[2], sims[i:], config.min_implicit_similarity, protected),
    )


def _cap(cluster: Cluster, config: ClusterConfig) -> Cluster:
    return replace(
        cluster,
        subjects=cluster.subjects[: config.max_subjects],
        questions=cluster.questions[: config.max_questions],
        answers=cluster.answers[: config.max_answers],
        implicit=cluster.implicit[: config.max_implicit],
        recommendation=cluster.recommendation[: config.max_implicit],
    )


def build_cluster(
    pref: Preference,
    builders: Sequence[str] = ("given", "templates"),
    config: ClusterConfig | None = None,
    lm: Any = None,
    embedder: Any = None,
    *,
    http_client: Any = None,
    bank: TemplateBank | None = None,
) -> Cluster:
    """Expand ``pref`` with the named builders, merge, filter and cap.

    Args:
        pref: the preference.
        builders: names in ``CLUSTER_BUILDERS`` (given, templates, self, openai), in priority order.
        config: sizes and thresholds; ``ClusterConfig()`` when None.
        lm: the loaded model, needed by ``self``.
        embedder: an ``Embedder`` for the similarity filter; None skips that filter.
        http_client: an ``httpx.Client`` for ``openai`` (tests pass a mock transport).
        bank: template bank (loaded once per call when None).

    Returns:
        A deterministic Cluster; ``questions`` and ``answers`` are never empty (the explicit
        question and the bare target are the fallback).

    Raises:
        UnknownNameError: for an unknown builder name.
        ConfigError: when a builder's requirement (lm, endpoint) is missing.
    """
    config = config or ClusterConfig()
    if not builders:
        raise ConfigError("builders is empty; choose from " + ", ".join(CLUSTER_BUILDERS.names()))
    ctx = BuildContext(lm=lm, http_client=http_client, bank=bank or load_template_bank())
    parts = [CLUSTER_BUILDERS.get(name)(pref, config, ctx) for name in builders]
    cluster = filter_cluster(merge_clusters(pref, parts), config, embedder)
    cluster = replace(
        cluster,
        questions=cluster.questions or (pref.explicit_question,),
        answers=cluster.answers or (pref.target,),
    )
    logger.debug("cluster for %s: %d questions, %d answers", pref.id, len(cluster.questions), len(cluster.answers))
    return _cap(cluster, config)


def build_clusters(prefs: Iterable[Preference], builders: Sequence[str] = ("given", "templates"), **kwargs: Any) -> list[Cluster]:
    """``build_cluster`` for each preference, sharing one template bank."""
    kwargs.setdefault("bank", load_template_bank())
    return [build_cluster(p, builders, **kwargs) for p in prefs]


def builder_names() -> list[str]:
    """Registered cluster builder names."""
    return CLUSTER_BUILDERS.names()

