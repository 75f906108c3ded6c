"""A real server on loopback with SmolLM2-135M-Instruct: 3 users with conflicting preferences on one
subject, 60 interleaved concurrent requests, forget, supersede, auth, and a failed edit.

Edits use ROME on the explicit question only (few optimisation steps) to stay within a few
minutes on 2 CPU cores; the default method is exercised by the benchmarks.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import torch

from prefedit.errors import EditError
from prefedit.personalize import MethodSpec
from prefedit.serve import Engine, build_app
from prefedit.serve.background import BackgroundServer
from prefedit.store import Store

pytestmark = pytest.mark.smollm2

ADMIN = "admin-secret-for-tests"
FAST = MethodSpec(editor="rome", editor_overrides={"layer": 0.66})
QUESTION = "What is my favorite color?"
COLORS = {"ana": "teal", "ben": "orange", "cat": "purple"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ask(http: httpx.Client, headers: dict[str, str], *, stream: bool = False) -> str:
    body = {"model": "default", "messages": [{"role": "user", "content": QUESTION}], "max_tokens": 10, "stream": stream}
    if not stream:
        r = http.post("/v1/chat/completions", json=body, headers=headers)
        assert r.status_code == 200, r.text
        return str(r.json()["choices"][0]["message"]["content"])
    with http.stream("POST", "/v1/chat/completions", json=body, headers=headers) as r:
        assert r.status_code == 200
        chunks = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])


def add(http: httpx.Client, user: str, headers: dict[str, str], **body: str) -> dict:
    r = http.post(f"/v1/users/{user}/preferences", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One intra-op thread: on a shared 2-core machine more threads only contend."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def server(smollm2, tmp_path_factory: pytest.TempPathFactory):
    engine = Engine(smollm2, Store.open(tmp_path_factory.mktemp("home")), method="rome", spec=FAST)
    with BackgroundServer(build_app(engine, ADMIN)) as srv, httpx.Client(base_url=srv.url, timeout=300) as http:
        yield engine, http


@pytest.fixture(scope="module")
def users(server) -> dict[str, dict[str, str]]:
    _engine, http = server
    headers = {}
    for user, color in COLORS.items():
        r = http.post("/v1/users", json={"id": user}, headers=bearer(ADMIN))
        headers[user] = bearer(r.json()["token"])
        add(http, user, headers[user], statement=f"My favorite color is {color}.")
    return headers


def test_each_of_60_concurrent_answers_reflects_only_its_own_user(server, users) -> None:
    _engine, http = server
    base = ask(http, bearer(ADMIN))
    assert not any(c in base.lower() for c in COLORS.values())
    order = [list(COLORS)[i % 3] for i in range(60)]

    def one(i: int) -> tuple[str, str]:
        return order[i], ask(http, users[order[i]], stream=i % 4 == 0).lower()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(60)))
    for user, text in results:
        others = [c for u, c in COLORS.items() if u != user]
        assert COLORS[user] in text and not any(c in text for c in others), (user, text)
    assert ask(http, bearer(ADMIN)) == base


def test_supersedes_replaces_and_forget_restores_the_base(server, users) -> None:
    _engine, http = server
    base = ask(http, bearer(ADMIN))
    (old,) = [p for p in http.get("/v1/users/ana/preferences", headers=users["ana"]).json()["data"] if p["active"]]
    new = add(http, "ana", users["ana"], statement="My favorite color is now crimson.", subject="favorite color", target="crimson", supersedes=old["id"])
    text = ask(http, users["ana"]).lower()
    assert "crimson" in text and "teal" not in text
    assert http.delete(f"/v1/users/ana/preferences/{new['id']}", headers=users["ana"]).status_code == 200
    assert "teal" in ask(http, users["ana"]).lower()
    assert http.delete(f"/v1/users/ana/preferences/{old['id']}", headers=users["ana"]).status_code == 200
    assert ask(http, users["ana"]) == base
    assert "orange" in ask(http, users["ben"]).lower()


def test_auth_refusals_and_other_users_paths(server, users) -> None:
    _engine, http = server
    assert http.get("/v1/models").status_code == 401
    assert http.post("/v1/users", json={"id": "eve"}, headers=users["ben"]).status_code == 403
    assert http.get("/v1/users/cat/preferences", headers=users["ben"]).status_code == 404
    assert http.delete("/v1/users/cat", headers=users["ben"]).status_code == 404
    err = http.get("/v1/users/cat/preferences", headers=users["ben"]).json()["error"]
    assert set(err) == {"message", "type", "param", "code"}


def test_failed_edit_leaves_store_and_weights_unchanged(server, users, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, http = server
    before = http.get("/v1/users/cat/preferences", headers=users["cat"]).json()
    weights = {k: v.clone() for k, v in engine.lm.model.state_dict().items()}
    import prefedit.editing.rome.editor as rome_editor

    def boom(*args, **kwargs):
        raise EditError("injected failure")

    monkeypatch.setattr(rome_editor, "update_direction", boom)
    r = http.post("/v1/users/cat/preferences", json={"statement": "I live in Oslo"}, headers=users["cat"])
    assert r.status_code == 422 and r.json()["error"]["code"] == "edit_failed"
    assert all(torch.equal(v, weights[k]) for k, v in engine.lm.model.state_dict().items())
    assert http.get("/v1/users/cat/preferences", headers=users["cat"]).json() == before
    assert "purple" in ask(http, users["cat"]).lower()
    assert not list(Path(engine.store.home, "deltas").rglob(".tmp-*"))
