"""Read preferences from files: UPQA JSON (flat and 9-way clustered), JSONL, plain text, multi-turn.

``load_preferences(path)`` picks the format from the suffix (``.json``, ``.jsonl``, ``.txt``)
or, for other names, from the content. Rows are numbered from 0 in JSON arrays (the same index
as the default id ``<file stem>-<index>``) and by line number from 1 in JSONL and text files;
every error names the file, the row or line, and the field.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prefedit.errors import DataError, PrefeditWarning, StatementParseError
from prefedit.preferences.parse import parse_statement
from prefedit.preferences.types import QUERY_TYPES, MultiTurnItem, Preference

AskModel = Callable[[str], "tuple[str, str] | None"]
Row = dict[str, Any]

UPQA_QUESTION_FIELDS = {
    "question": "explicit",
    "question_paraphrased": "paraphrased",
    "implicit_question": "implicit",
    "product_recommendation_question": "recommendation",
}
_UPQA_KEYS = {"input_attribute", "attribute_type", "target", *UPQA_QUESTION_FIELDS, "id", "aliases", "user_id", "supersedes"}
_JSONL_KEYS = {"statement", "subject", "target", "id", "user_id", "supersedes", "aliases", "questions"}
_MULTITURN_KEYS = {"preference", "question", "subject", "target", "aliases", "id", "user_id"}


def _fail(where: str, field: str, problem: str) -> DataError:
    return DataError(f"{where}: field {field!r} {problem}")


def _req_str(row: Row, field: str, where: str) -> str:
    if field not in row or row[field] is None:
        raise _fail(where, field, "is missing")
    value = row[field]
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, field, f"must be a non-empty string, got {value!r}")
    return value.strip()


def _opt_str(row: Row, field: str, where: str) -> str | None:
    return _req_str(row, field, where) if row.get(field) is not None else None


def _str_tuple(row: Row, field: str, where: str) -> tuple[str, ...]:
    value = row.get(field)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(where, field, f"must be a list of non-empty strings, got {value!r}")
    return tuple(v.strip() for v in value)


def _str_or_cluster(row: Row, field: str, where: str) -> tuple[str, tuple[str, ...]]:
    """A flat string, or a 9-way cluster list whose last element is the original."""
    if isinstance(row.get(field), list):
        items = _str_tuple(row, field, where)
        if not items:
            raise _fail(where, field, "is an empty list")
        return items[-1], items
    return _req_str(row, field, where), ()


def _user(row: Row, user_id: str | None, where: str) -> str:
    own = _opt_str(row, "user_id", where)
    if own and user_id and own != user_id:
        raise _fail(where, "user_id", f"is {own!r} but the loader was asked for user {user_id!r}")
    return own or user_id or "default"


def _warn_unknown(rows: list[tuple[str, Row]], known: set[str], path: Path) -> None:
    unknown = sorted({k for _, r in rows for k in r} - known)
    if unknown:
        warnings.warn(f"{path}: ignoring unknown fields {unknown}; upgrade prefedit to read them", PrefeditWarning, stacklevel=3)


def preference_from_upqa(row: Row, *, where: str, default_id: str, user_id: str | None = None) -> Preference:
    """One UPQA item (flat, or clustered with 9-element lists) as a Preference."""
    subject, subjects = _str_or_cluster(row, "attribute_type", where)
    target, targets = _str_or_cluster(row, "target", where)
    explicit, questions = _str_or_cluster(row, "question", where)
    asked = {"explicit": explicit}
    for field, kind in UPQA_QUESTION_FIELDS.items():
        if field != "question" and row.get(field) is not None:
            asked[kind] = _req_str(row, field, where)
    return Preference(
        id=_opt_str(row, "id", where) or default_id,
        statement=_req_str(row, "input_attribute", where),
        subject=subject,
        target=target,
        user_id=_user(row, user_id, where),
        questions=asked,
        aliases=_str_tuple(row, "aliases", where),
        supersedes=_opt_str(row, "supersedes", where),
        given_subjects=subjects,
        given_questions=questions,
        given_targets=targets,
    )


def _questions(row: Row, where: str) -> dict[str, str]:
    value = row.get("questions") or {}
    if not isinstance(value, dict):
        raise _fail(where, "questions", f"must be an object keyed by query type, got {value!r}")
    bad = sorted(set(value) - set(QUERY_TYPES))
    if bad:
        raise _fail(where, "questions", f"has unknown query types {bad}; allowed: {', '.join(QUERY_TYPES)}")
    return {k: _req_str(value, k, f"{where}: questions") for k in QUERY_TYPES if k in value}


def _subject_target(statement: str, where: str, ask_model: AskModel | None) -> tuple[str, str]:
    parsed = parse_statement(statement) or (ask_model(statement) if ask_model else None)
    if parsed is None:
        raise StatementParseError(
            f"{where}: cannot find a subject and target in {statement!r}",
            hint="write it like 'My favorite color is blue', give subject and target in a JSONL row, or pass ask_model",
        )
    if not (isinstance(parsed, tuple) and len(parsed) == 2 and all(isinstance(x, str) and x.strip() for x in parsed)):
        raise StatementParseError(f"{where}: ask_model returned {parsed!r} for {statement!r}; expected (subject, target)")
    return parsed[0].strip(), parsed[1].strip()


def preference_from_row(
    row: Row, *, where: str, default_id: str, user_id: str | None = None, ask_model: AskModel | None = None
) -> Preference:
    """A JSONL-style row: ``statement`` plus optional subject, target, id, user_id, aliases, questions."""
    statement = _req_str(row, "statement", where)
    subject, target = _opt_str(row, "subject", where), _opt_str(row, "target", where)
    if subject is None or target is None:
        parsed_subject, parsed_target = _subject_target(statement, where, ask_model)
        subject, target = subject or parsed_subject, target or parsed_target
    return Preference(
        id=_opt_str(row, "id", where) or default_id,
        statement=statement,
        subject=subject,
        target=target,
        user_id=_user(row, user_id, where),
        questions=_questions(row, where),
        aliases=_str_tuple(row, "aliases", where),
        supersedes=_opt_str(row, "supersedes", where),
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc


def _json_rows(path: Path, text: str) -> list[tuple[str, Row]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from exc
    if isinstance(data, dict) and isinstance(data.get("preferences"), list):
        data = data["preferences"]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON array of objects (or {{'preferences': [...]}}), got {type(data).__name__}")
    rows = [(f"{path}: row {i}", r) for i, r in enumerate(data)]
    for where, r in rows:
        if not isinstance(r, dict):
            raise DataError(f"{where}: expected an object, got {type(r).__name__}")
    return rows


def _jsonl_rows(path: Path, text: str) -> list[tuple[str, Row]]:
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}: line {lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: invalid JSON: {exc.msg}") from exc
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected an object, got {type(row).__name__}")
        rows.append((where, row))
    return rows


def _text_lines(text: str) -> Iterator[tuple[int, str]]:
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield lineno, line


def detect_format(path: Path, text: str) -> str:
    """``json``, ``jsonl`` or ``text``, from the suffix or else from the first character."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix in (".txt", ".text", ".md"):
        return "text"
    head = text.lstrip()[:1]
    if head == "[":
        return "json"
    if head == "{":
        try:
            json.loads(text)
            return "json"
        except json.JSONDecodeError:
            return "jsonl"
    return "text"


def _check_unique(prefs: list[Preference], wheres: list[str]) -> None:
    seen: dict[str, str] = {}
    for pref, where in zip(prefs, wheres, strict=True):
        if pref.id in seen:
            raise _fail(where, "id", f"{pref.id!r} repeats the id of {seen[pref.id].split(': ', 1)[-1]}")
        seen[pref.id] = where


def _from_rows(path: Path, rows: list[tuple[str, Row]], user_id: str | None, ask_model: AskModel | None) -> list[Preference]:
    upqa = bool(rows) and "input_attribute" in rows[0][1]
    _warn_unknown(rows, _UPQA_KEYS if upqa else _JSONL_KEYS, path)
    prefs = []
    for index, (where, row) in enumerate(rows):
        default_id = f"{path.stem}-{index}"
        if upqa:
            prefs.append(preference_from_upqa(row, where=where, default_id=default_id, user_id=user_id))
        else:
            prefs.append(preference_from_row(row, where=where, default_id=default_id, user_id=user_id, ask_model=ask_model))
    _check_unique(prefs, [w for w, _ in rows])
    return prefs


def load_preferences(path: str | Path, *, user_id: str | None = None, ask_model: AskModel | None = None) -> list[Preference]:
    """Read a preference file.

    Args:
        path: UPQA JSON (flat or ``*_cluster9``), JSONL (one object per line with ``statement``
            and optional subject/target/id/user_id/supersedes/aliases/questions), or plain text
            (one statement per line; ``#`` comments and blank lines are skipped).
        user_id: owner of rows that name none (default "default"); a row naming another user
            is an error.
        ask_model: called with a statement that the rules in ``parse.py`` cannot read; returns
            ``(subject, target)`` or None.

    Returns:
        The preferences in file order.

    Raises:
        DataError: a malformed file or row, naming the file, row or line, and field.
        StatementParseError: a statement with no subject/target, naming the file and line.
    """
    path = Path(path)
    text = _read(path)
    fmt = detect_format(path, text)
    if fmt == "json":
        return _from_rows(path, _json_rows(path, text), user_id, ask_model)
    if fmt == "jsonl":
        return _from_rows(path, _jsonl_rows(path, text), user_id, ask_model)
    rows = [(f"{path}: line {n}", {"statement": line}) for n, line in _text_lines(text)]
    return _from_rows(path, rows, user_id, ask_model)


def load_multiturn(path: str | Path) -> list[MultiTurnItem]:
    """Read multi-turn items: rows ``{preference, question, subject, target, aliases?, id?, user_id?}``.

    The file is a JSON array or JSONL. ``preference`` is the statement made in the first turn;
    ``question`` is asked after the distractor turns.
    """
    path = Path(path)
    text = _read(path)
    rows = _json_rows(path, text) if detect_format(path, text) == "json" else _jsonl_rows(path, text)
    _warn_unknown(rows, _MULTITURN_KEYS, path)
    items = []
    for index, (where, row) in enumerate(rows):
        item_id = _opt_str(row, "id", where) or f"{path.stem}-{index}"
        pref = Preference(
            id=item_id,
            statement=_req_str(row, "preference", where),
            subject=_req_str(row, "subject", where),
            target=_req_str(row, "target", where),
            user_id=_user(row, None, where),
            aliases=_str_tuple(row, "aliases", where),
        )
        items.append(MultiTurnItem(id=item_id, preference=pref, question=_req_str(row, "question", where)))
    _check_unique([i.preference for i in items], [w for w, _ in rows])
    return items
