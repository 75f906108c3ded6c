"""Seconds of the first `prefedit` edit in a fresh process, with and without the guard keys on disk.

Every `prefedit` plan carries 128 guard questions (chat-templated and raw), whose keys bound the
entries' widened radii. ``guard_keys`` keeps them in memory and under
``$PREFEDIT_CACHE/stats/<fingerprint>/guard-keys/``; a process that finds them on disk (a second
``prefedit user add``, a restarted server) skips computing them. This script starts ``--n`` pairs
of fresh processes, alternating: one with an empty guard-key folder (``cold``), one with the
folder the previous process wrote (``warm``). Each loads SmolLM2 (not timed) and times one edit
of the demo's first preference (which also builds the bfloat16 copy of the model, where the
search runs in bfloat16). The processes share a temporary cache root whose ``models`` folder
links to the real one, so nothing is converted again and the real cache is not touched.

Run: ``.venv/bin/python benchmarks/guard_keys_cache.py --n 4``; prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from prefedit.settings import get_settings

CHILD = """
import json, time, torch
from importlib import resources
torch.set_num_threads({threads})
from prefedit.models import load_model
from prefedit.personalize import preference_delta
from prefedit.preferences import load_preferences
lm = load_model()
with resources.as_file(resources.files("prefedit.data").joinpath("demo_preferences.json")) as p:
    pref = load_preferences(p)[0]
start = time.perf_counter()
preference_delta(lm, pref)
print(json.dumps({{"seconds": time.perf_counter() - start}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=4, help="pairs of processes (default 4)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    real = get_settings().cache_dir
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "models").symlink_to(real / "models", target_is_directory=True)
        env = {**os.environ, "PREFEDIT_CACHE": str(root), "PREFEDIT_NO_PROGRESS": "1"}
        code = CHILD.format(threads=args.threads)

        def first_edit() -> float:
            out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
            return float(json.loads(out.strip().splitlines()[-1])["seconds"])

        seconds: dict[str, list[float]] = {"cold": [], "warm": []}
        for _ in range(args.n):
            shutil.rmtree(root / "stats", ignore_errors=True)
            seconds["cold"].append(first_edit())  # computes the guard keys and writes them
            seconds["warm"].append(first_edit())  # reads them
        files = sorted(p.name for p in (root / "stats").rglob("*.safetensors"))
    mean = {k: round(sum(v) / len(v), 2) for k, v in seconds.items()}
    print(json.dumps({"n": args.n, "first_edit_seconds": mean, "runs": {k: [round(s, 2) for s in v] for k, v in seconds.items()},
                      "speedup": round(mean["cold"] / mean["warm"], 2), "cache_files": len(files)}))


if __name__ == "__main__":
    main()
