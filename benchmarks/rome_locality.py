"""ROME locality against generalisation on SmolLM2 (CPU): configurations side by side.

For each demo preference (``prefedit/data/demo_preferences.json``), ROME edits from the statement
alone (the evaluation questions are stripped, as ``prefedit personalize`` does), then asks the
preference's explicit and paraphrased questions (greedy, 24 tokens, target containment) and the
20 unrelated probes (``bench.probes.unrelated_prompts``, greedy, 32 tokens: same output as
the unedited model or not).

Run: ``.venv/bin/python benchmarks/rome_locality.py [--variants JSON]``, where JSON maps a name to
RomeConfig overrides, default ``{"no shrink": {"shrink_margin": null}, "shrink 1": {}}``.
One JSON line per variant.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from importlib import resources

from prefedit.bench.probes import unrelated_prompts
from prefedit.deltas import applied
from prefedit.editing import get_editor
from prefedit.editing.plan import plan_preference
from prefedit.models import chat_prompt, generate, load_model
from prefedit.preferences import load_preferences

KINDS = ("explicit", "paraphrased")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default='{"no shrink": {"shrink_margin": null}, "shrink 1": {}}')
    ap.add_argument("--model", default="smollm2-135m-instruct")
    args = ap.parse_args()
    lm = load_model(args.model)
    tok = lm.tokenizer
    probes = [chat_prompt(tok, q) for q in unrelated_prompts()]
    before = generate(lm, probes, max_new_tokens=32)
    with resources.as_file(resources.files("prefedit.data").joinpath("demo_preferences.json")) as p:
        prefs = load_preferences(p)
    editor = get_editor("rome")
    for name, overrides in json.loads(args.variants).items():
        config = replace(editor.default_config(lm), **overrides)
        hits = dict.fromkeys(KINDS, 0)
        same, seconds = [], []
        for pref in prefs:
            start = time.perf_counter()
            delta = editor.compute(lm, plan_preference(tok, replace(pref, questions={})), config)
            seconds.append(time.perf_counter() - start)
            with applied(lm, delta):
                answers = generate(lm, [chat_prompt(tok, pref.questions[k]) for k in KINDS], max_new_tokens=24)
                after = generate(lm, probes, max_new_tokens=32)
            for kind, answer in zip(KINDS, answers, strict=True):
                hits[kind] += pref.target.lower() in answer.lower()
            same.append(sum(a == b for a, b in zip(before, after, strict=True)))
        print(json.dumps({"variant": name, "overrides": overrides, "preferences": len(prefs),
                          "correct": hits, "unrelated_unchanged_of_20": same,
                          "unrelated_unchanged_mean": round(sum(same) / len(same), 2),
                          "seconds_per_edit_mean": round(sum(seconds) / len(seconds), 2)}), flush=True)


if __name__ == "__main__":
    main()
