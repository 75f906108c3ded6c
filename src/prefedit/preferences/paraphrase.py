"""Model-written cluster variants: the ``self`` and ``openai`` cluster builders.

Both ask the same three simple requests (subject synonyms, question paraphrases, answer
paraphrases) and read numbered lines back. ``self`` uses the model being edited through
``prefedit.models.generate`` (greedy, so deterministic); ``openai`` posts to
``{llm_base_url}/chat/completions`` of any OpenAI-compatible server with temperature 0.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from prefedit.errors import ConfigError, PrefeditError
from prefedit.preferences.clusters import BuildContext, ClusterConfig
from prefedit.preferences.types import Cluster, Preference

logger = logging.getLogger(__name__)

_NUMBERED = re.compile(r"^\s*(?:\d{1,2}\s*[.):-]|[-*•])\s*(.+?)\s*$")
_MAX_VARIANT_WORDS = 30


class LLMEndpointError(PrefeditError):
    """The OpenAI-compatible endpoint failed or answered in an unexpected shape."""


def paraphrase_prompts(pref: Preference, n: int) -> dict[str, str]:
    """The three requests, keyed by the cluster field they fill."""
    answer = f"Your {pref.subject} is {pref.target}."
    return {
        "subjects": (
            f'List {n} words or short phrases that mean the same as "{pref.subject}". '
            f"Write one per line, numbered 1 to {n}, and nothing else."
        ),
        "questions": (
            f'Rewrite this question in {n} different ways, keeping its meaning: "{pref.explicit_question}" '
            f"Write one per line, numbered 1 to {n}, and nothing else."
        ),
        "answers": (
            f'Rewrite this answer in {n} different ways. Every version must contain "{pref.target}" exactly: '
            f'"{answer}" Write one per line, numbered 1 to {n}, and nothing else.'
        ),
    }


def parse_numbered(text: str, *, limit: int | None = None) -> list[str]:
    """Items of a numbered or bulleted list, quotes stripped, blanks and long lines dropped."""
    items: list[str] = []
    for line in text.splitlines():
        m = _NUMBERED.match(line)
        if not m:
            continue
        item = m.group(1).strip().strip("\"'“”").strip()
        if item and len(item.split()) <= _MAX_VARIANT_WORDS:
            items.append(item)
    return items[:limit] if limit else items


def _cluster_from_replies(pref: Preference, replies: dict[str, str], n: int, source: str) -> Cluster:
    subjects = [s for s in parse_numbered(replies.get("subjects", ""), limit=n) if len(s.split()) <= 5]
    questions = [q for q in parse_numbered(replies.get("questions", ""), limit=n) if q.endswith("?")]
    answers = parse_numbered(replies.get("answers", ""), limit=n)
    return Cluster(
        preference=pref,
        subjects=tuple(subjects),
        questions=tuple(questions),
        answers=tuple(answers),
        sources=(source,),
    )


def build_self(pref: Preference, config: ClusterConfig, ctx: BuildContext) -> Cluster:
    """Variants written by the model being edited (greedy decoding through its chat template)."""
    if ctx.lm is None:
        raise ConfigError("the 'self' cluster builder needs the model: pass lm=load_model(...) to build_cluster")
    from prefedit.models import chat_prompt, generate

    prompts = paraphrase_prompts(pref, config.n_generated)
    rendered = [chat_prompt(ctx.lm.tokenizer, p) for p in prompts.values()]
    outputs = generate(ctx.lm, rendered, max_new_tokens=config.max_new_tokens)
    return _cluster_from_replies(pref, dict(zip(prompts, outputs, strict=True)), config.n_generated, "self")


def _endpoint() -> tuple[str, str | None, str]:
    from prefedit.settings import get_settings

    settings = get_settings()
    if not settings.llm_base_url or not settings.llm_model:
        missing = [n for n, v in (("PREFEDIT_LLM_BASE_URL", settings.llm_base_url), ("PREFEDIT_LLM_MODEL", settings.llm_model)) if not v]
        raise ConfigError(
            f"the 'openai' cluster builder needs an OpenAI-compatible endpoint; {' and '.join(missing)} not set",
            hint="export PREFEDIT_LLM_BASE_URL=http://localhost:8000/v1 PREFEDIT_LLM_MODEL=<model> "
            "(and PREFEDIT_LLM_API_KEY if the server needs one)",
        )
    return settings.llm_base_url.rstrip("/"), settings.llm_api_key, settings.llm_model


def chat_completion(client: Any, url: str, api_key: str | None, model: str, prompt: str, config: ClusterConfig) -> str:
    """One user message to ``{url}/chat/completions``; returns the first choice's text."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "temperature": 0,
        "max_tokens": config.max_new_tokens,
    }
    try:
        response = client.post(f"{url}/chat/completions", json=body, headers=headers, timeout=config.llm_timeout_s)
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"] or "")
    except httpx.HTTPError as exc:
        raise LLMEndpointError(f"request to {url}/chat/completions failed: {exc}", hint="check PREFEDIT_LLM_BASE_URL and that the server is up") from exc
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise LLMEndpointError(f"{url}/chat/completions answered without choices[0].message.content: {exc!r}") from exc


def build_openai(pref: Preference, config: ClusterConfig, ctx: BuildContext) -> Cluster:
    """Variants written by the model at ``PREFEDIT_LLM_BASE_URL`` (``PREFEDIT_LLM_MODEL``)."""
    import httpx

    url, api_key, model = _endpoint()
    prompts = paraphrase_prompts(pref, config.n_generated)
    client = ctx.http_client or httpx.Client()
    try:
        replies = {k: chat_completion(client, url, api_key, model, p, config) for k, p in prompts.items()}
    finally:
        if ctx.http_client is None:
            client.close()
    logger.debug("openai builder: %d replies for %s", len(replies), pref.id)
    return _cluster_from_replies(pref, replies, config.n_generated, "openai")
