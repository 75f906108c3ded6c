"""Edit-and-store: turn a user's statements into deltas on one base model and keep them in a Store.

The CLI (``prefedit user add``) and the server (``POST /v1/users/{id}/preferences``) share this
class, so both parse, edit and store the same way. Deltas are computed on the bare base model
(``preference_delta`` is pure), one per preference; a user's delta is the composition of their
active preferences' deltas, so forgetting one equals a fresh edit of the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from prefedit.deltas import Delta, applied_deltas, compose
from prefedit.errors import DataError, EditError, StatementParseError
from prefedit.models.chat import DEFAULT_SYSTEM_PROMPT
from prefedit.personalize import DEFAULT_METHOD, MethodSpec, method_spec, preference_delta, with_system
from prefedit.preferences.types import Preference
from prefedit.store.records import (
    MAX_IMPORT,
    MAX_STATEMENT,
    MAX_SUBJECT,
    MAX_TARGET,
    PreferenceDraft,
    PreferenceRecord,
    check_text,
)
from prefedit.store.store import Store
from prefedit.store.tokens import new_preference_id

log = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 1 << 20


class Personalizer:
    """Adds, forgets and composes one store's preferences on one base model ``lm``.

    Args:
        lm: the base model (a LoadedModel); nothing may be applied to it while editing.
        store: where preferences and deltas live.
        method: personalization method name (``prefedit`` or an editor name).
        spec: overrides ``method``'s MethodSpec (e.g. fewer optimisation steps in tests).
        system_prompt: the system prompt the deployment answers with; edits are keyed under it
            (default: the spec's, prefedit's own).
    """

    def __init__(self, lm: Any, store: Store, method: str = DEFAULT_METHOD, *, spec: MethodSpec | None = None,
                 system_prompt: str | None = None) -> None:
        self.lm = lm
        self.store = store
        self.method = method
        self.spec = with_system(spec or method_spec(method), system_prompt)
        self.warned: set[str] = set()

    def add(self, user_id: str, drafts: Sequence[PreferenceDraft], *, create_user: bool = False) -> list[PreferenceRecord]:
        """Parse, edit and store ``drafts`` for ``user_id``, all or nothing.

        Raises:
            StatementParseError: a statement without subject/target that no rule parses.
            NotFoundError: no such user (unless ``create_user``) or ``supersedes`` names no preference.
            DeltaMismatchError: the user's stored edits were made on another base model.
        """
        prefs = [self.preference(user_id, d) for d in drafts]  # parse everything before editing anything
        return self.add_preferences(user_id, prefs, create_user=create_user)

    def add_preferences(self, user_id: str, prefs: Sequence[Preference], *, create_user: bool = False) -> list[PreferenceRecord]:
        """Edit and store ready-made preferences (ids already assigned), all or nothing."""
        for p in prefs:
            _check_limits(p)
        if not create_user:
            self.store.user_state(user_id)  # NotFoundError before any editing
        new_ids = {p.id for p in prefs}
        for p in prefs:
            if p.supersedes is not None and p.supersedes not in new_ids:
                self.store.check_supersedes(user_id, p.supersedes)
        items = [(p, self.edit(p)) for p in prefs]
        return self.store.add_preferences(user_id, items, create_user=create_user)

    def import_file(self, user_id: str, path: str | Path, *, create_user: bool = True) -> list[PreferenceRecord]:
        """Edit and store every preference in a file (formats of ``load_preferences``), all or nothing.

        Ids in the file are replaced by store ids; ``supersedes`` may name an earlier row of the
        file or a stored preference of ``user_id``.
        """
        from prefedit.preferences.loaders import load_preferences

        path = Path(path)
        if path.is_file() and path.stat().st_size > MAX_IMPORT_BYTES:
            raise DataError(f"{path} is {path.stat().st_size} bytes; one import reads at most {MAX_IMPORT_BYTES}", hint="split the file")
        loaded = load_preferences(path, user_id=user_id)
        if not loaded:
            raise DataError(f"{path} holds no preferences")
        if len(loaded) > MAX_IMPORT:
            raise DataError(f"{path} holds {len(loaded)} preferences; one import takes at most {MAX_IMPORT}", hint="split the file")
        ids = {p.id: new_preference_id() for p in loaded}
        prefs = [replace(p, id=ids[p.id], supersedes=ids.get(p.supersedes, p.supersedes) if p.supersedes else None) for p in loaded]
        return self.add_preferences(user_id, prefs, create_user=create_user)

    def preference(self, user_id: str, draft: PreferenceDraft) -> Preference:
        """A Preference with a fresh id; subject and target parsed from the statement when not given."""
        subject, target = draft.subject, draft.target
        if subject is None or target is None:
            from prefedit.preferences.parse import parse_statement

            parsed = parse_statement(draft.statement)
            if parsed is None:
                raise StatementParseError(
                    f"could not tell what the statement {draft.statement!r} is about (its subject) and what the answer is (its target)",
                    hint='pass them explicitly: --subject "favorite color" --target "teal" (CLI) or "subject"/"target" (API)',
                )
            subject, target = subject or parsed[0], target or parsed[1]
        return Preference(
            id=new_preference_id(), statement=draft.statement, subject=subject, target=target, user_id=user_id, supersedes=draft.supersedes
        )

    def edit(self, pref: Preference) -> Delta:
        """The delta of one preference, computed on the bare base model."""
        if applied_deltas(self.lm):
            raise EditError("edits are computed on the base model, but deltas are applied to it", hint="revert them first (revert_all)")
        log.info("editing %s (%s: %s)", pref.id, pref.subject, pref.target)
        return preference_delta(self.lm, pref, self.method, spec=self.spec)

    def forget(self, user_id: str, pref_id: str) -> PreferenceRecord:
        return self.store.forget(user_id, pref_id)

    def user_delta(self, user_id: str) -> Delta | None:
        """``user_id``'s composed delta on this base model, or None when they have no preferences.

        Raises:
            NotFoundError: no such user.
            DeltaMismatchError: their edits were made on another base model.
        """
        deltas = self.store.active_deltas(user_id, fingerprint=self.lm.fingerprint)
        self._check_system(user_id, deltas)
        return compose(deltas, editor=self.method) if deltas else None

    def _check_system(self, user_id: str, deltas: Sequence[Delta]) -> None:
        """Warn (once per user) about edits keyed under another system prompt: a chat-keyed edit
        fires only near the prompt it was keyed under."""
        keyed = [str(d.info.extra.get("system_prompt", DEFAULT_SYSTEM_PROMPT)) for d in deltas]  # older deltas: prefedit's own
        other = [k for k in keyed if k != self.spec.system]
        if other and user_id not in self.warned:
            self.warned.add(user_id)
            log.warning("user %s: %d of %d edits were keyed under another system prompt (%s) than this deployment's (%r), "
                        "so they may not fire; re-add those preferences", user_id, len(other), len(deltas),
                        ", ".join(repr(o) for o in sorted(set(other))), self.spec.system)


def _check_limits(pref: Preference) -> None:
    try:
        check_text("statement", pref.statement, MAX_STATEMENT)
        check_text("subject", pref.subject, MAX_SUBJECT)
        check_text("target", pref.target, MAX_TARGET)
    except DataError as exc:
        raise DataError(f"preference {pref.statement[:60]!r}: {exc.message}", hint=exc.hint) from exc
