"""The preference store: users and hashed tokens, edit-and-store transactions, supersede, forget,
schema versioning and refusal of deltas made for another base model (tiny model, fast ROME)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import torch

from prefedit.deltas import compose
from prefedit.errors import DataError, DeltaMismatchError, EditError, NotFoundError, StatementParseError, StoreError
from prefedit.personalize import MethodSpec, preference_delta
from prefedit.store import SCHEMA_VERSION, AlreadyExistsError, Personalizer, PreferenceDraft, Store

FAST = MethodSpec(editor="rome", editor_overrides={"steps": 3, "use_covariance": False})
TWO_REQUESTS = MethodSpec(editor="rome", builders=("given", "templates"), max_requests=2, editor_overrides={"steps": 2, "use_covariance": False})


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models gain nothing from intra-op threads, and lose a lot to them on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "home")
    yield s
    s.close()


@pytest.fixture
def pz(tiny, store: Store) -> Personalizer:
    return Personalizer(tiny("llama"), store, "rome", spec=FAST)


def _files(store: Store) -> set[str]:
    return {str(p.relative_to(store.home)) for p in (store.home / "deltas").rglob("*") if p.is_file()}


def _weights(lm) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in lm.model.state_dict().items()}


def test_store_uses_wal_and_records_schema_version(store: Store) -> None:
    conn = sqlite3.connect(store.home / "store.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_store_refuses_a_newer_schema(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "store.sqlite3")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        Store.open(tmp_path)


def test_store_defaults_to_prefedit_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PREFEDIT_HOME", str(tmp_path / "h"))
    assert Store.open().home == tmp_path / "h"
    assert (tmp_path / "h" / "store.sqlite3").is_file()


def test_tokens_are_stored_hashed_and_resolve_to_their_user(store: Store) -> None:
    token = store.create_user("alice")
    assert store.user_for_token(token) == "alice"
    assert store.user_for_token(token + "x") is None
    raw = (store.home / "store.sqlite3").read_bytes() + (store.home / "store.sqlite3-wal").read_bytes()
    assert token.encode() not in raw
    with pytest.raises(AlreadyExistsError):
        store.create_user("alice")
    new = store.issue_token("alice")
    assert store.user_for_token(token) is None and store.user_for_token(new) == "alice"


@pytest.mark.parametrize("bad", ["", "a b", "-x", "x" * 65, "a/b"])
def test_invalid_user_ids_are_refused(store: Store, bad: str) -> None:
    with pytest.raises(DataError):
        store.create_user(bad)


def test_add_stores_one_delta_file_per_preference(pz: Personalizer, store: Store) -> None:
    records = pz.add("alice", [PreferenceDraft("My favorite color is blue"), PreferenceDraft("I live in Lisbon")], create_user=True)
    assert [(r.subject, r.target) for r in records] == [("favorite color", "blue"), ("location", "Lisbon")]
    assert len(_files(store)) == 2
    assert 0 < store.stored_bytes("alice") < 64 * 1024


def test_user_delta_equals_a_fresh_edit_of_the_active_preferences(pz: Personalizer, store: Store) -> None:
    a, b = pz.add("alice", [PreferenceDraft("x", subject="pet", target="cat"), PreferenceDraft("y", subject="city", target="Oslo")], create_user=True)
    pz.forget("alice", a.id)
    stored = pz.user_delta("alice")
    pref = pz.preference("alice", PreferenceDraft("y", subject="city", target="Oslo"))
    fresh = compose([preference_delta(pz.lm, pref, "rome", spec=FAST)])
    assert stored is not None and stored.info.preference_ids == [b.id]
    for u, v in zip(stored.updates, fresh.updates, strict=True):
        torch.testing.assert_close(u.dense(), v.dense())


def test_supersedes_replaces_and_forgetting_the_newer_restores_the_older(pz: Personalizer, store: Store) -> None:
    (old,) = pz.add("alice", [PreferenceDraft("I live in Lisbon")], create_user=True)
    (new,) = pz.add("alice", [PreferenceDraft("I live in Porto", supersedes=old.id)])
    assert {r.id: r.active for r in store.preferences("alice")} == {old.id: False, new.id: True}
    assert pz.user_delta("alice").info.preference_ids == [new.id]
    with pytest.raises(DataError, match="already superseded"):
        pz.add("alice", [PreferenceDraft("I live in Rome", supersedes=old.id)])
    pz.forget("alice", new.id)
    assert [r.id for r in store.preferences("alice", active_only=True)] == [old.id]


def test_forgetting_a_superseded_preference_keeps_the_chain(pz: Personalizer, store: Store) -> None:
    (a,) = pz.add("alice", [PreferenceDraft("I live in Lisbon")], create_user=True)
    (b,) = pz.add("alice", [PreferenceDraft("I live in Porto", supersedes=a.id)])
    (c,) = pz.add("alice", [PreferenceDraft("I live in Faro", supersedes=b.id)])
    pz.forget("alice", b.id)
    records = {r.id: r for r in store.preferences("alice")}
    assert records[c.id].supersedes == a.id and not records[a.id].active and records[c.id].active


def test_supersedes_must_name_this_users_preference(pz: Personalizer, store: Store) -> None:
    (a,) = pz.add("alice", [PreferenceDraft("I live in Lisbon")], create_user=True)
    store.create_user("bob")
    with pytest.raises(NotFoundError):
        pz.add("bob", [PreferenceDraft("I live in Porto", supersedes=a.id)])
    assert store.preferences("bob") == []


def test_unparsable_statement_asks_for_subject_and_target(pz: Personalizer, store: Store) -> None:
    store.create_user("alice")
    with pytest.raises(StatementParseError) as info:
        pz.add("alice", [PreferenceDraft("hmm, well")])
    assert "subject" in info.value.hint and "target" in info.value.hint
    (r,) = pz.add("alice", [PreferenceDraft("hmm, well", subject="mood", target="pensive")])
    assert (r.subject, r.target) == ("mood", "pensive")


def test_failure_while_storing_leaves_nothing_written(pz: Personalizer, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    pz.add("alice", [PreferenceDraft("I live in Lisbon")], create_user=True)
    before = (store.preferences("alice"), _files(store), store.user_state("alice"))
    import prefedit.store.store as store_module

    def boom(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error (injected)")

    monkeypatch.setattr(store_module, "_insert_delta", boom)
    with pytest.raises(sqlite3.OperationalError):
        pz.add("alice", [PreferenceDraft("My favorite color is blue"), PreferenceDraft("I have a cat")])
    assert (store.preferences("alice"), _files(store), store.user_state("alice")) == before


def test_failure_in_the_middle_of_an_edit_leaves_store_and_weights_unchanged(tiny, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    lm = tiny("llama")
    pz = Personalizer(lm, store, "rome", spec=TWO_REQUESTS)
    pz.add("alice", [PreferenceDraft("I live in Lisbon")], create_user=True)
    before = (store.preferences("alice"), _files(store), store.user_state("alice"), _weights(lm))
    import prefedit.editing.rome.editor as rome_editor

    real, calls = rome_editor.optimize_values, []

    def fail_on_second_request(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first request's update is applied to the weights right now
            raise EditError("injected failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(rome_editor, "optimize_values", fail_on_second_request)
    with pytest.raises(EditError, match="injected"):
        pz.add("alice", [PreferenceDraft("My favorite color is blue")])
    assert len(calls) == 2
    after = (store.preferences("alice"), _files(store), store.user_state("alice"), _weights(lm))
    assert after[:3] == before[:3]
    assert all(torch.equal(after[3][k], before[3][k]) for k in before[3])


def test_failed_first_edit_does_not_create_the_user(pz: Personalizer, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import prefedit.editing.rome.editor as rome_editor

    def boom(*args, **kwargs):
        raise EditError("injected failure")

    monkeypatch.setattr(rome_editor, "update_direction", boom)
    with pytest.raises(EditError):
        pz.add("carol", [PreferenceDraft("I live in Lisbon")], create_user=True)
    assert not store.has_user("carol") and _files(store) == set()


def test_delta_for_another_base_model_is_refused(tiny, store: Store) -> None:
    llama, other = tiny("llama"), tiny("qwen2")
    Personalizer(llama, store, "rome", spec=FAST).add("alice", [PreferenceDraft("I live in Lisbon")], create_user=True)
    on_other = Personalizer(other, store, "rome", spec=FAST)
    with pytest.raises(DeltaMismatchError, match="made for base model"):
        on_other.user_delta("alice")
    with pytest.raises(DeltaMismatchError):
        on_other.add("alice", [PreferenceDraft("I have a cat")])
    assert len(store.preferences("alice")) == 1


def test_delete_user_removes_rows_and_files(pz: Personalizer, store: Store) -> None:
    pz.add("alice", [PreferenceDraft("I live in Lisbon")], create_user=True)
    pz.add("bob", [PreferenceDraft("I have a cat")], create_user=True)
    store.delete_user("alice")
    assert [u.id for u in store.users()] == ["bob"]
    assert len(_files(store)) == 1
    with pytest.raises(NotFoundError):
        store.preferences("alice")


def test_recreated_user_has_a_new_state(store: Store) -> None:
    store.create_user("alice")
    first = store.user_state("alice")
    store.delete_user("alice")
    store.create_user("alice")
    assert store.user_state("alice") != first


def test_import_file_is_all_or_nothing_and_maps_file_ids(pz: Personalizer, store: Store, tmp_path: Path) -> None:
    good = tmp_path / "prefs.jsonl"
    rows = [{"id": "a", "statement": "I live in Lisbon"}, {"id": "b", "statement": "I moved", "subject": "location", "target": "Porto", "supersedes": "a"}]
    good.write_text("".join(json.dumps(r) + "\n" for r in rows))
    records = pz.import_file("alice", good)
    assert records[1].supersedes == records[0].id
    assert [r.active for r in store.preferences("alice")] == [False, True]
    bad = tmp_path / "bad.txt"
    bad.write_text("I have a dog\nhmm, well\n")
    with pytest.raises(StatementParseError):
        pz.import_file("alice", bad)
    assert len(store.preferences("alice")) == 2


def test_statement_size_limit(pz: Personalizer, store: Store) -> None:
    with pytest.raises(DataError, match="limit"):
        PreferenceDraft("I like " + "x" * 2000)
