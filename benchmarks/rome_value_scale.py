"""The Lisbon ROME edit with its optimised value scaled by 0, 0.05 … 1: the explicit answer and how
many of the 20 unrelated probes keep their 32-token greedy output (how much of delta the target needs).

Run: ``.venv/bin/python benchmarks/rome_value_scale.py``.
"""
from dataclasses import replace
import torch
from prefedit.bench.probes import unrelated_prompts
from prefedit.deltas import applied
from prefedit.deltas.delta import LowRankUpdate
from prefedit.editing import get_editor
from prefedit.editing.plan import plan_preference
from prefedit.models import chat_prompt, generate, load_model
from prefedit.preferences import Preference
lm = load_model("smollm2-135m-instruct"); tok = lm.tokenizer
print("dtype", lm.dtype)
probes = [chat_prompt(tok, q) for q in unrelated_prompts()]
before = generate(lm, probes, max_new_tokens=32)
pref = Preference(id="p", statement="I live in Lisbon.", subject="city", target="Lisbon", questions={"explicit": "Which city do I live in?"})
ed = get_editor("rome")
delta = ed.compute(lm, plan_preference(tok, pref), replace(ed.default_config(lm), shrink_margin=None))  # the value before any shrink
u = delta.updates[0]
for f in [0.0, 0.05, 0.1, 0.25, 0.5, 1.0]:
    d2 = replace(delta, updates=[LowRankUpdate(u.param, u.up * f, u.down)])
    with applied(lm, d2):
        ans = generate(lm, [chat_prompt(tok, pref.explicit_question)], max_new_tokens=16)[0]
        after = generate(lm, probes, max_new_tokens=32)
    print(f, sum(a == b for a, b in zip(before, after)), repr(ans[:50]), flush=True)
