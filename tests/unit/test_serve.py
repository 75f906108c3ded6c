"""The HTTP server on a tiny model: auth and 404s, OpenAI error shape and size limits, chat with
per-user edits (streamed too), forget, supersede, failure injection, and isolation under
concurrency on a real loopback server."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import torch
from fastapi.testclient import TestClient

from prefedit.errors import ConfigError, EditError
from prefedit.personalize import MethodSpec
from prefedit.serve import Engine, build_app
from prefedit.serve.background import BackgroundServer
from prefedit.serve.generation import GenerationParams
from prefedit.store import Store

ADMIN = "admin-secret"
FAST = MethodSpec(editor="rome", editor_overrides={"layer": 0, "steps": 3, "use_covariance": False, "preserve_weight": 0.0})
QUESTION = [{"role": "user", "content": "What is my favorite color?"}]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def engine(tiny, tmp_path: Path) -> Engine:
    eng = Engine(tiny("llama"), Store.open(tmp_path / "home"), method="rome", spec=FAST)
    yield eng
    eng.close()


@pytest.fixture
def client(engine: Engine) -> TestClient:
    with TestClient(build_app(engine, ADMIN)) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_user(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/v1/users", json={"id": user}, headers=auth(ADMIN))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == user
    return auth(r.json()["token"])


def chat_body(**kw) -> dict:
    return {"model": "default", "messages": QUESTION, "max_tokens": 6, **kw}


def answer(client: TestClient, headers: dict[str, str], **kw) -> str:
    r = client.post("/v1/chat/completions", json=chat_body(**kw), headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["message"]["content"]


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    if code is not None:
        assert err["code"] == code
    return err


def test_server_refuses_to_start_without_admin_token(engine: Engine) -> None:
    with pytest.raises(ConfigError, match="admin token"):
        build_app(engine, None)
    with pytest.raises(ConfigError):
        build_app(engine, "  ")


def test_health_and_models_list_only_the_base_model(client: TestClient, engine: Engine) -> None:
    assert client.get("/health").json()["status"] == "ok"
    assert_error(client.get("/v1/models"), 401, "invalid_api_key")
    data = client.get("/v1/models", headers=auth(ADMIN)).json()["data"]
    assert [m["id"] for m in data] == [engine.model_name]


def test_admin_routes_refuse_users_and_strangers(client: TestClient) -> None:
    alice = new_user(client, "alice")
    new_user(client, "bob")
    assert_error(client.post("/v1/users", json={"id": "eve"}), 401)
    assert_error(client.post("/v1/users", json={"id": "eve"}, headers=auth("nope")), 401, "invalid_api_key")
    assert_error(client.post("/v1/users", json={"id": "eve"}, headers=alice), 403, "forbidden")
    assert_error(client.delete("/v1/users/alice", headers=alice), 403)
    assert_error(client.delete("/v1/users/bob", headers=alice), 404, "not_found")
    assert_error(client.post("/v1/users", json={"id": "alice"}, headers=auth(ADMIN)), 409, "already_exists")


def test_a_users_token_reaches_only_that_users_data(client: TestClient) -> None:
    alice, bob = new_user(client, "alice"), new_user(client, "bob")
    r = client.post("/v1/users/bob/preferences", json={"statement": "I live in Oslo"}, headers=bob)
    pref = r.json()["id"]
    for method, path, body in [
        ("GET", "/v1/users/bob/preferences", None),
        ("POST", "/v1/users/bob/preferences", {"statement": "I live in Rome"}),
        ("DELETE", f"/v1/users/bob/preferences/{pref}", None),
        ("GET", "/v1/users/nobody/preferences", None),
    ]:
        err = assert_error(client.request(method, path, json=body, headers=alice), 404, "not_found")
        assert "bob" in err["message"] or "nobody" in err["message"]
    assert_error(client.post("/v1/chat/completions", json=chat_body(user="bob"), headers=alice), 404)
    assert len(client.get("/v1/users/bob/preferences", headers=bob).json()["data"]) == 1
    assert len(client.get("/v1/users/bob/preferences", headers=auth(ADMIN)).json()["data"]) == 1


def test_validation_errors_use_the_openai_shape(client: TestClient) -> None:
    alice = new_user(client, "alice")
    err = assert_error(client.post("/v1/chat/completions", json={"model": "default"}, headers=alice), 400, "invalid_value")
    assert err["param"] == "messages" and err["type"] == "invalid_request_error"
    assert_error(client.post("/v1/chat/completions", json=chat_body(max_tokens=100_000), headers=alice), 400)
    assert_error(client.post("/v1/chat/completions", json=chat_body(n=2), headers=alice), 400)
    assert_error(client.post("/v1/chat/completions", json=chat_body(model="gpt-4"), headers=alice), 404, "model_not_found")
    assert_error(client.post("/v1/chat/completions", json=chat_body(max_tokens=2000), headers=alice), 400, "context_length_exceeded")
    long = [{"role": "user", "content": "x" * 40_000}]
    assert_error(client.post("/v1/chat/completions", json=chat_body(messages=long), headers=alice), 400)
    assert_error(client.post("/v1/users", json={"id": "a b"}, headers=auth(ADMIN)), 400)
    assert_error(client.post("/v1/users/alice/preferences", json={"statement": "x" * 1001}, headers=alice), 400)
    assert_error(client.post("/v1/users/alice/preferences", json={"statement": "ok", "extra": 1}, headers=alice), 400)
    big = b'{"model": "default", "messages": [' + b" " * (2 << 20) + b"]}"
    assert_error(client.post("/v1/chat/completions", content=big, headers={**alice, "content-type": "application/json"}), 400)


def test_unparsable_statement_asks_for_subject_and_target(client: TestClient) -> None:
    alice = new_user(client, "alice")
    err = assert_error(client.post("/v1/users/alice/preferences", json={"statement": "hmm, well"}, headers=alice), 400, "statement_not_parsed")
    assert err["param"] == "statement" and "subject" in err["message"]
    r = client.post("/v1/users/alice/preferences", json={"statement": "hmm, well", "subject": "mood", "target": "calm"}, headers=alice)
    assert r.status_code == 200 and r.json()["target"] == "calm"


def test_chat_answers_with_the_users_edits_and_forget_restores_the_base(client: TestClient, engine: Engine) -> None:
    alice = new_user(client, "alice")
    base = answer(client, alice)
    assert answer(client, auth(ADMIN)) == base
    r = client.post("/v1/users/alice/preferences", json={"statement": "My favorite color is teal"}, headers=alice)
    pref = r.json()
    assert set(pref) >= {"id", "statement", "subject", "target", "created", "supersedes"} and pref["target"] == "teal"
    edited = answer(client, alice)
    assert edited != base
    assert answer(client, auth(ADMIN)) == base  # the admin without `user` gets the bare model
    assert answer(client, auth(ADMIN), user="alice") == edited
    assert client.delete(f"/v1/users/alice/preferences/{pref['id']}", headers=alice).json()["deleted"] is True
    assert client.get("/v1/users/alice/preferences", headers=alice).json()["data"] == []
    assert answer(client, alice) == base


def test_supersedes_replaces_the_older_preference(client: TestClient, engine: Engine) -> None:
    alice = new_user(client, "alice")
    old = client.post("/v1/users/alice/preferences", json={"statement": "My favorite color is teal"}, headers=alice).json()
    with_old = answer(client, alice)
    body = {"statement": "My favorite color is orange now", "subject": "favorite color", "target": "orange", "supersedes": old["id"]}
    new = client.post("/v1/users/alice/preferences", json=body, headers=alice).json()
    assert new["supersedes"] == old["id"]
    prefs = {p["id"]: p["active"] for p in client.get("/v1/users/alice/preferences", headers=alice).json()["data"]}
    assert prefs == {old["id"]: False, new["id"]: True}
    assert engine.user_delta("alice").info.preference_ids == [new["id"]]
    assert answer(client, alice) != with_old


def test_streaming_matches_the_plain_answer(client: TestClient) -> None:
    alice = new_user(client, "alice")
    client.post("/v1/users/alice/preferences", json={"statement": "My favorite color is teal"}, headers=alice)
    plain = answer(client, alice)
    with client.stream("POST", "/v1/chat/completions", json=chat_body(stream=True, stream_options={"include_usage": True}), headers=alice) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line.removeprefix("data: ")) for line in r.iter_lines() if line.startswith("data: {")]
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"]) == plain
    assert events[-1]["usage"]["completion_tokens"] == 6
    assert_error(client.post("/v1/chat/completions", json=chat_body(stream=True, max_tokens=2000), headers=alice), 400, "context_length_exceeded")


def test_delete_user_removes_their_data(client: TestClient, engine: Engine) -> None:
    alice = new_user(client, "alice")
    client.post("/v1/users/alice/preferences", json={"statement": "My favorite color is teal"}, headers=alice)
    assert client.delete("/v1/users/alice", headers=auth(ADMIN)).json()["deleted"] is True
    assert_error(client.get("/v1/users/alice/preferences", headers=auth(ADMIN)), 404)
    assert_error(client.get("/v1/models", headers=alice), 401)
    assert not any((engine.store.home / "deltas").rglob("*.safetensors"))


def test_failed_edit_leaves_store_weights_and_answers_unchanged(client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = new_user(client, "alice")
    client.post("/v1/users/alice/preferences", json={"statement": "My favorite color is teal"}, headers=alice)
    before = (answer(client, alice), client.get("/v1/users/alice/preferences", headers=alice).json())
    weights = {k: v.clone() for k, v in engine.lm.model.state_dict().items()}
    import prefedit.editing.rome.editor as rome_editor

    def boom(*args, **kwargs):
        raise EditError("injected failure")

    monkeypatch.setattr(rome_editor, "update_direction", boom)
    assert_error(client.post("/v1/users/alice/preferences", json={"statement": "I live in Oslo"}, headers=alice), 422, "edit_failed")
    assert all(torch.equal(v, weights[k]) for k, v in engine.lm.model.state_dict().items())
    assert (answer(client, alice), client.get("/v1/users/alice/preferences", headers=alice).json()) == before


def test_concurrent_requests_each_see_only_their_own_users_edits(engine: Engine) -> None:
    """3 users with conflicting targets for one subject, 60 interleaved requests on a loopback server."""
    with BackgroundServer(build_app(engine, ADMIN)) as server, httpx.Client(base_url=server.url, timeout=120) as http:
        tokens = {}
        for user, color in [("u1", "teal"), ("u2", "orange"), ("u3", "purple")]:
            tokens[user] = auth(http.post("/v1/users", json={"id": user}, headers=auth(ADMIN)).json()["token"])
            body = {"statement": f"My favorite color is {color}", "subject": "favorite color", "target": color}
            assert http.post(f"/v1/users/{user}/preferences", json=body, headers=tokens[user]).status_code == 200
        params = GenerationParams(max_tokens=6)
        expected = {u: engine.chat(u, QUESTION, params).text for u in tokens}
        expected["admin"] = engine.chat(None, QUESTION, params).text
        assert len(set(expected.values())) == 4  # every user's edit changes the answer differently
        tokens["admin"] = auth(ADMIN)
        order = [list(tokens)[i % 4] for i in range(60)]

        def ask(i: int) -> tuple[str, str]:
            user = order[i]
            if i % 3 == 0:  # every third request streams
                with http.stream("POST", "/v1/chat/completions", json=chat_body(stream=True), headers=tokens[user]) as r:
                    return user, streamed_text(r)
            r = http.post("/v1/chat/completions", json=chat_body(), headers=tokens[user])
            assert r.status_code == 200, r.text
            return user, r.json()["choices"][0]["message"]["content"]

        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(ask, range(60)))
    assert [text for _, text in results] == [expected[user] for user, _ in results]


def streamed_text(r: httpx.Response) -> str:
    assert r.status_code == 200
    events = [line.removeprefix("data: ") for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])


def test_content_parts_and_developer_role_read_like_plain_text(client: TestClient) -> None:
    alice = new_user(client, "alice")
    parts = [{"role": "user", "content": [{"type": "text", "text": "What is my "}, {"type": "text", "text": "favorite color?"}]}]
    assert answer(client, alice, messages=parts) == answer(client, alice)
    system = [{"role": "system", "content": "Be brief."}, *QUESTION]
    developer = [{"role": "developer", "content": "Be brief."}, *QUESTION]
    assert answer(client, alice, messages=developer) == answer(client, alice, messages=system)
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}]
    assert_error(client.post("/v1/chat/completions", json=chat_body(messages=image), headers=alice), 400)


def test_a_deployment_system_prompt_is_used_for_chats_and_for_the_edits(tiny, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from prefedit.store import PreferenceDraft

    ada = "You are Ada, the travel desk's assistant."
    lm, home = tiny("llama"), tmp_path / "home"
    eng = Engine(lm, Store.open(home), method="rome", spec=FAST, system_prompt=ada)
    try:
        seen = []
        eng.submit_chat(None, QUESTION, GenerationParams(max_tokens=2), on_start=lambda p: seen.append(p)).result()
        assert ada in lm.tokenizer.decode(seen[0].input_ids[0])  # a chat without a system message gets the deployment's
        given = [{"role": "system", "content": "Be brief."}, *QUESTION]
        eng.submit_chat(None, given, GenerationParams(max_tokens=2), on_start=lambda p: seen.append(p)).result()
        assert ada not in lm.tokenizer.decode(seen[1].input_ids[0]) and "Be brief." in lm.tokenizer.decode(seen[1].input_ids[0])
        eng.personalizer.add("alice", [PreferenceDraft("My favorite color is teal")], create_user=True)
        (delta,) = eng.store.active_deltas("alice", fingerprint=lm.fingerprint)
        assert delta.info.extra["system_prompt"] == ada
        with caplog.at_level("WARNING", logger="prefedit.store.personalizer"):
            eng.user_delta("alice")
        assert not caplog.records
    finally:
        eng.close()
    other = Engine(lm, Store.open(home), method="rome", spec=FAST)  # restarted with prefedit's own prompt
    try:
        with caplog.at_level("WARNING", logger="prefedit.store.personalizer"):
            other.user_delta("alice")
            other.personalizer.user_delta("alice")
        (record,) = caplog.records  # once per user
        assert "another system prompt" in record.getMessage() and ada in record.getMessage()
    finally:
        other.close()
