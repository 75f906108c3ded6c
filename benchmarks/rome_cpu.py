"""ROME time per preference on SmolLM2 (CPU): with the key covariance (warm cache) and with C = I.

Run: ``.venv/bin/python benchmarks/rome_cpu.py [--n 6]``. Prints one JSON object per setting
and peak RSS. The statistics are estimated once first (cold) and timed separately, so the
per-edit figure is the warm-cache cost.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from dataclasses import replace
from importlib import resources

import torch

from prefedit.editing import get_editor
from prefedit.editing.plan import plan_preference
from prefedit.editing.stats import key_second_moment
from prefedit.models import load_model
from prefedit.preferences import load_preferences


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=6, help="preferences to edit per setting")
    ap.add_argument("--model", default="smollm2-135m-instruct")
    args = ap.parse_args()
    lm = load_model(args.model)
    with resources.as_file(resources.files("prefedit.data").joinpath("demo_preferences.json")) as p:
        prefs = load_preferences(p)[: args.n]
    editor = get_editor("rome")
    base = editor.default_config(lm)
    start = time.perf_counter()
    key_second_moment(lm, [base.layer_index(lm)], corpus=base.corpus, n_tokens=base.stats_tokens)
    stats_s = time.perf_counter() - start
    print(json.dumps({"setting": "key statistics (cold or cached)", "seconds": round(stats_s, 2)}))
    for name, cfg in (("rome, C from corpus (warm cache)", base), ("rome, C = I", replace(base, use_covariance=False))):
        times = []
        for pref in prefs:
            plan = plan_preference(lm.tokenizer, replace(pref, questions={}))
            t = time.perf_counter()
            editor.compute(lm, plan, cfg)
            times.append(time.perf_counter() - t)
        print(json.dumps({"setting": name, "layer": cfg.layer_index(lm), "steps": cfg.steps, "n": len(times),
                          "seconds_per_edit_mean": round(sum(times) / len(times), 3), "seconds_per_edit_max": round(max(times), 3)}))
    print(json.dumps({"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "torch_threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine()}))


if __name__ == "__main__":
    main()
