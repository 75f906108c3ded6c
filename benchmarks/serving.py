"""Serving benchmark on SmolLM2-135M-Instruct (CPU), with the targets of issue 5.

1. user switch: apply + revert a 10-preference delta (target <= 5 ms, median);
2. single-stream generation throughput with a user's edits vs the bare base model (target >= 0.9x);
3. storage per preference at the default method's settings (target <= 64 KB);
4. a store of 10,000 users x 5 preferences slows a request by at most 10% (vs a store of 1 user).

One preference is edited for real with the default method (its delta gives the shapes and the
storage figure); the others are synthetic deltas of the same shape and scale. Stores are written
under ``$PREFEDIT_CACHE/bench/`` and removed afterwards.

Run:  .venv/bin/python benchmarks/serving.py [--users 10000] [--threads 1] [--out result.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from prefedit import __version__
from prefedit.deltas import Delta, DeltaInfo, LowRankUpdate, apply_delta, compose, revert_delta, save_delta
from prefedit.models import load_model
from prefedit.personalize import DEFAULT_METHOD, preference_delta
from prefedit.preferences.types import Preference
from prefedit.settings import get_settings
from prefedit.store import Store
from prefedit.store.tokens import hash_token, new_preference_id

QUESTION = [{"role": "user", "content": "Tell me a long story about a trip to the mountains."}]


def median_ms(fn: Callable[[], Any], repeat: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def synthetic_like(template: Delta, seed: int) -> Delta:
    """A delta with the template's parameters, shapes and factor scale, random directions."""
    g = torch.Generator().manual_seed(seed)
    updates = []
    for u in template.updates:
        assert isinstance(u, LowRankUpdate)
        up = torch.randn(u.up.shape, generator=g) * u.up.std()
        down = torch.randn(u.down.shape, generator=g) * u.down.std()
        updates.append(LowRankUpdate(u.param, up, down))
    info = DeltaInfo(editor=template.info.editor, fingerprint=template.info.fingerprint, config=template.info.config, preference_ids=[f"syn{seed}"])
    return Delta(info=info, updates=updates)


def real_edit(lm: Any, root: Path) -> tuple[Delta, dict[str, Any]]:
    """One preference edited with the default method and stored; its seconds and bytes."""
    pref = Preference(id=new_preference_id(), statement="My favorite color is teal.", subject="favorite color", target="teal", user_id="real")
    start = time.perf_counter()
    delta = preference_delta(lm, pref, DEFAULT_METHOD)
    seconds = time.perf_counter() - start
    store = Store.open(root / "real")
    store.ensure_user("real")
    store.add_preferences("real", [(pref, delta)])
    stored = store.stored_bytes("real")
    store.close()
    ranks = [u.rank for u in delta.updates if isinstance(u, LowRankUpdate)]
    return delta, {"method": DEFAULT_METHOD, "edit_seconds": round(seconds, 2), "bytes_per_preference": stored, "tensor_bytes": delta.nbytes(),
                   "params": delta.params, "rank": ranks, "target_bytes": 64 * 1024, "pass": stored <= 64 * 1024}


def bench_switch(lm: Any, template: Delta, repeat: int) -> dict[str, Any]:
    delta = compose([synthetic_like(template, s) for s in range(10)])

    def switch() -> None:
        apply_delta(lm, delta)
        revert_delta(lm, delta)

    for _ in range(5):  # warm up
        switch()
    times = [timed_ms(switch) for _ in range(repeat)]
    ms = statistics.median(times)
    rank = sum(u.rank for u in delta.updates if isinstance(u, LowRankUpdate))
    return {"preferences": 10, "rank": rank, "median_ms": round(ms, 3), "min_ms": round(min(times), 3), "target_ms": 5.0, "pass": ms <= 5.0}


def bench_throughput(lm: Any, template: Delta, root: Path, tokens: int, rounds: int) -> dict[str, Any]:
    from prefedit.serve import Engine
    from prefedit.serve.generation import GenerationParams

    engine = Engine(lm, Store.open(root / "throughput"), cache_size=0)
    delta = compose([synthetic_like(template, s) for s in range(10)])
    params = GenerationParams(max_tokens=tokens)
    rates: dict[str, list[float]] = {"base": [], "edited": []}
    engine.submit_chat(None, QUESTION, params).result()  # warm up
    for _ in range(rounds):  # alternate, so load changes hit both alike
        for name, d in (("base", None), ("edited", delta)):
            start = time.perf_counter()
            result = engine.submit_chat(d, QUESTION, params).result()
            rates[name].append(result.completion_tokens / (time.perf_counter() - start))
    engine.close()
    base, edited = statistics.median(rates["base"]), statistics.median(rates["edited"])
    return {"max_tokens": tokens, "rounds": rounds, "base_tok_s": round(base, 2), "edited_tok_s": round(edited, 2),
            "ratio": round(edited / base, 3), "target_ratio": 0.9, "pass": edited / base >= 0.9}


def populate(store: Store, template: Delta, users: int, prefs: int) -> float:
    """Fill ``store`` fast (one transaction, no fsync): synthetic deltas, one file per preference."""
    from prefedit.store.store import _insert_delta, _insert_preference

    start, now = time.perf_counter(), int(time.time())
    with store.db.transaction() as conn:
        for i in range(users):
            cur = conn.execute("INSERT INTO users (id, token_hash, created) VALUES (?, ?, ?)", (f"user{i:05d}", hash_token(f"token-{i}"), now))
            for j in range(prefs):
                pref = Preference(id=new_preference_id(), statement=f"s{j}", subject=f"subject {j}", target=f"target {i}", user_id=f"user{i:05d}")
                delta = synthetic_like(template, i * prefs + j)
                rel = store.blobs.relpath(cur.lastrowid, pref.id)
                save_delta(delta, store.blobs.root / rel)
                _insert_preference(conn, cur.lastrowid, pref, now)
                _insert_delta(conn, pref.id, rel, delta, (store.blobs.root / rel).stat().st_size, now)
    return time.perf_counter() - start


def timed_ms(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - start)


def bench_big_store(lm: Any, template: Delta, root: Path, users: int, prefs: int, tokens: int, repeat: int) -> dict[str, Any]:
    """Full HTTP chat requests (auth, store lookups, deltas read from disk and composed, generation)
    against a 1-user and a ``users``-user store, interleaved so that machine load hits both alike."""
    from fastapi.testclient import TestClient

    from prefedit.serve import Engine, build_app

    small, big = Store.open(root / "small"), Store.open(root / "big")
    populate(small, template, 1, prefs)
    seconds = populate(big, template, users, prefs)
    # cache_size=0: every request reads and composes its user's deltas, the worst case
    engines = {"small": Engine(lm, small, cache_size=0), "big": Engine(lm, big, cache_size=0)}
    picks = {"small": itertools.cycle([0]), "big": itertools.cycle(int(i * (users - 1) / max(1, repeat)) for i in range(repeat))}
    body = {"model": "default", "messages": QUESTION, "max_tokens": tokens}
    times: dict[str, list[float]] = {"small": [], "big": []}
    lookups: dict[str, float] = {}
    with TestClient(build_app(engines["small"], "admin")) as cs, TestClient(build_app(engines["big"], "admin")) as cb:
        clients = {"small": cs, "big": cb}
        for k in range(repeat + 2):
            for name, client in clients.items():
                auth = {"Authorization": f"Bearer token-{next(picks[name])}"}
                ms = timed_ms(lambda c=client, a=auth: c.post("/v1/chat/completions", json=body, headers=a).raise_for_status())
                if k >= 2:
                    times[name].append(ms)
        for name, engine in engines.items():

            def lookup(e: Any = engine, n: str = name) -> None:
                i = next(picks[n])
                e.store.user_for_token(f"token-{i}")
                e.user_delta(f"user{i:05d}")

            lookups[name] = median_ms(lookup, repeat * 5)
    med = {name: statistics.median(t) for name, t in times.items()}
    ratio = med["big"] / med["small"]
    return {
        "users": users, "preferences_per_user": prefs, "populate_seconds": round(seconds, 1), "max_tokens": tokens, "requests_each": repeat,
        "store_bytes": sum(p.stat().st_size for p in big.home.rglob("*") if p.is_file()),
        "request_ms": {k: round(v, 2) for k, v in med.items()},
        "auth_lookup_and_delta_load_ms": {k: round(v, 3) for k, v in lookups.items()},
        "slowdown": round(ratio - 1, 4), "target_slowdown": 0.10, "pass": ratio <= 1.10,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=10_000, help="users in the big store")
    ap.add_argument("--prefs", type=int, default=5, help="preferences per user in the big store")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--tokens", type=int, default=64, help="new tokens per generation")
    ap.add_argument("--repeat", type=int, default=30, help="repetitions of each timing")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON result here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    root = get_settings().cache_dir / "bench" / f"serving-{int(time.time())}"
    lm = load_model()
    try:
        template, storage = real_edit(lm, root)
        result = {
            "type": "prefedit.bench.serving", "prefedit_version": __version__, "model": lm.name, "fingerprint": lm.fingerprint,
            "device": "cpu", "dtype": str(lm.dtype).removeprefix("torch."), "torch_threads": torch.get_num_threads(), "machine": platform.machine(),
            "storage": storage,
            "switch": bench_switch(lm, template, args.repeat * 10),
            "throughput": bench_throughput(lm, template, root, args.tokens, max(3, args.repeat // 5)),
            "big_store": bench_big_store(lm, template, root, args.users, args.prefs, args.tokens // 4, args.repeat),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
