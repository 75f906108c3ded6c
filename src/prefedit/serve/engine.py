"""The serving engine: one base model, one store, one model thread, and a cache of user deltas.

Every job that touches the weights (apply -> generate -> revert for a chat request, or computing
an edit) runs on the model thread in arrival order; composed user deltas are cached by the
user's store state, so a change made by any process is seen by the next request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from prefedit.deltas import Delta, applied, applied_deltas
from prefedit.errors import EditError
from prefedit.personalize import DEFAULT_METHOD, MethodSpec
from prefedit.serve.cache import DeltaCache
from prefedit.serve.errors import ModelNotFoundError
from prefedit.serve.generation import GenerationParams, GenerationResult, Prompt, build_prompt, run_generation
from prefedit.serve.protocol import MAX_PENDING_JOBS
from prefedit.serve.worker import ModelWorker
from prefedit.store import Personalizer, PreferenceDraft, PreferenceRecord, Store

log = logging.getLogger(__name__)

DEFAULT_MODEL_ALIAS = "default"


class Engine:
    """Serves one base model ``lm`` with the edits of the users in ``store``.

    Args:
        lm: the base model (LoadedModel).
        store: users, preferences and deltas.
        method: personalization method for new preferences.
        spec: overrides the method's MethodSpec (tests use fewer optimisation steps).
        cache_size: composed user deltas kept in memory.
        max_pending: jobs allowed to wait for the model before requests answer 503.
        model_name: the name clients use in ``model`` (besides ``default``); ``lm.name`` when omitted.
        system_prompt: the system prompt chats without one get; new edits are keyed under it
            (default: prefedit's, "You are a helpful assistant.").
    """

    def __init__(
        self,
        lm: Any,
        store: Store,
        *,
        method: str = DEFAULT_METHOD,
        spec: MethodSpec | None = None,
        cache_size: int = 256,
        max_pending: int = MAX_PENDING_JOBS,
        model_name: str | None = None,
        system_prompt: str | None = None,
    ) -> None:
        self.lm = lm
        self.store = store
        self.personalizer = Personalizer(lm, store, method, spec=spec, system_prompt=system_prompt)
        self.system_prompt = self.personalizer.spec.system
        self.cache = DeltaCache(cache_size)
        self.worker = ModelWorker(max_pending)
        self.model_name = model_name or lm.name
        self.created = int(time.time())

    def close(self) -> None:
        self.worker.close()

    def check_model(self, name: str) -> None:
        if name not in (DEFAULT_MODEL_ALIAS, self.model_name):
            raise ModelNotFoundError(
                f"model {name!r} is not served here", hint=f"use {self.model_name!r} or {DEFAULT_MODEL_ALIAS!r} (GET /v1/models)"
            )

    # -- users and preferences ---------------------------------------------------------------

    def create_user(self, user_id: str) -> str:
        return self.store.create_user(user_id)

    def delete_user(self, user_id: str) -> None:
        self.store.delete_user(user_id)
        self.cache.invalidate(user_id)

    def preferences(self, user_id: str) -> list[PreferenceRecord]:
        return self.store.preferences(user_id)

    def submit_add(self, user_id: str, draft: PreferenceDraft) -> Future[PreferenceRecord]:
        """Edit and store one preference on the model thread (the edit needs the bare weights)."""
        self.store.check_supersedes(user_id, draft.supersedes)  # fail fast, before queueing

        def job() -> PreferenceRecord:
            try:
                return self.personalizer.add(user_id, [draft])[0]
            finally:
                self.cache.invalidate(user_id)

        return self.worker.submit(job)

    def add_preference(self, user_id: str, draft: PreferenceDraft) -> PreferenceRecord:
        return self.submit_add(user_id, draft).result()

    def forget(self, user_id: str, pref_id: str) -> PreferenceRecord:
        record = self.store.forget(user_id, pref_id)
        self.cache.invalidate(user_id)
        return record

    # -- chat --------------------------------------------------------------------------------

    def user_delta(self, user_id: str) -> Delta | None:
        """``user_id``'s composed delta (cached), or None when they have no preferences.

        Raises:
            NotFoundError: no such user.
            DeltaMismatchError: their edits were made on another base model.
        """
        state = self.store.user_state(user_id)  # read before the deltas: a cached entry is never newer than its key
        found, delta = self.cache.get(user_id, state)
        if not found:
            delta = self.personalizer.user_delta(user_id)
            self.cache.put(user_id, state, delta)
        return delta

    def submit_chat(
        self,
        delta: Delta | None,
        messages: Sequence[dict[str, str]],
        params: GenerationParams,
        *,
        on_start: Callable[[Prompt], None] | None = None,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Future[GenerationResult]:
        """Queue apply(delta) -> generate -> revert as one job on the model thread."""

        def job() -> GenerationResult:
            if applied_deltas(self.lm):
                raise EditError("a delta was left applied to the served model; refusing to generate")
            prompt = build_prompt(self.lm, messages, params.max_tokens, system=self.system_prompt)
            if on_start is not None:
                on_start(prompt)
            with applied(self.lm, delta):
                return run_generation(self.lm, prompt, params, on_text=on_text, cancel=cancel)

        return self.worker.submit(job)

    def chat(self, user_id: str | None, messages: Sequence[dict[str, str]], params: GenerationParams) -> GenerationResult:
        """Blocking form of a chat request (benchmarks, scripts)."""
        delta = self.user_delta(user_id) if user_id is not None else None
        return self.submit_chat(delta, messages, params).result()
