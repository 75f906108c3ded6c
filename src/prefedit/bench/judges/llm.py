"""The llm judge: asks any OpenAI-compatible chat endpoint whether an answer gives the target.

Configured by ``PREFEDIT_LLM_BASE_URL`` (e.g. ``http://localhost:8000/v1``),
``PREFEDIT_LLM_API_KEY`` and ``PREFEDIT_LLM_MODEL``. A failed request gives a None verdict
(counted as wrong in accuracy) and a logged warning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from prefedit.bench.judges import JudgeInput
from prefedit.errors import ConfigError

log = logging.getLogger(__name__)

SYSTEM = (
    "You are an expert evaluator. Given a user's preference and an assistant's response, output 1 if the "
    "response states the preference or clearly takes it into account, and 0 otherwise. Output only 1 or 0."
)
_RECOMMEND = "For recommendations, output 1 if the recommended thing suits someone with this preference."


class LlmJudge:
    name = "llm"

    def __init__(self, *, base_url: str | None = None, api_key: str | None = None, model: str | None = None,
                 client: Any = None, timeout_s: float = 60.0) -> None:
        from prefedit.settings import get_settings

        s = get_settings()
        self.base_url = (base_url or s.llm_base_url or "").rstrip("/")
        self.api_key = api_key or s.llm_api_key
        self.model = model or s.llm_model
        if not self.base_url or not self.model:
            raise ConfigError(
                "the llm judge needs an OpenAI-compatible endpoint and model name",
                hint="set PREFEDIT_LLM_BASE_URL (e.g. http://localhost:8000/v1) and PREFEDIT_LLM_MODEL "
                "(and PREFEDIT_LLM_API_KEY if it needs one), or use --judge match",
            )
        self.timeout_s = timeout_s
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=self.timeout_s)
        return self._client

    def _ask(self, x: JudgeInput) -> bool | None:
        extra = f" {_RECOMMEND}" if x.query_type == "recommendation" else ""
        user = f"Preference: {' / '.join(x.accepted)}\nQuestion: {x.question}\nResponse: {x.answer}"
        body = {"model": self.model, "temperature": 0, "max_tokens": 2,
                "messages": [{"role": "system", "content": SYSTEM + extra}, {"role": "user", "content": user}]}
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            resp = self.client.post(f"{self.base_url}/chat/completions", json=body, headers=headers)
            resp.raise_for_status()
            text = str(resp.json()["choices"][0]["message"]["content"]).strip()
        except Exception as exc:  # network, HTTP or shape errors: no verdict, keep going
            log.warning("llm judge request failed: %s", exc)
            return None
        return text.startswith("1") if text[:1] in ("0", "1") else None

    def judge(self, inputs: Sequence[JudgeInput]) -> list[bool | None]:
        return [self._ask(x) for x in inputs]

    def info(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "model": self.model}
