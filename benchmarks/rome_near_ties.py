"""Why ROME edits flip unrelated prompts on SmolLM2: for each of the 20 unrelated probes whose
32-token greedy output changes after the Lisbon edit, the first diverging answer token and the
unedited model's top-2 logit margin there (near-ties flip first).

Run: ``.venv/bin/python benchmarks/rome_near_ties.py '{"shrink_margin": null}'`` (RomeConfig overrides; this one gives the
unshrunk edit the figures in docs/editing.md came from).
"""
import json, sys
from dataclasses import replace
import torch
from prefedit.bench.probes import unrelated_prompts
from prefedit.deltas import applied
from prefedit.editing import get_editor
from prefedit.editing.plan import plan_preference
from prefedit.models import chat_prompt, generate, load_model
from prefedit.preferences import Preference

lm = load_model("smollm2-135m-instruct")
tok = lm.tokenizer
probes = [chat_prompt(tok, q) for q in unrelated_prompts()]
before = generate(lm, probes, max_new_tokens=32)
pref = Preference(id="p", statement="I live in Lisbon.", subject="city", target="Lisbon", questions={"explicit": "Which city do I live in?"})
ed = get_editor("rome")
cfg = replace(ed.default_config(lm), **json.loads(sys.argv[1]))
delta = ed.compute(lm, plan_preference(tok, pref), cfg)
def margins(text):
    ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        lg = lm.model(ids).logits[0].float()
    top = lg.topk(2, -1).values
    return ids[0], (top[:, 0] - top[:, 1])
with applied(lm, delta):
    after = generate(lm, probes, max_new_tokens=32)
for p, b, a in zip(probes, before, after):
    if a == b: continue
    n = len(tok(p, add_special_tokens=False).input_ids)
    ids, m = margins(p + b)
    ids2, m2 = margins(p + a)
    k = next(i for i in range(min(len(ids), len(ids2))) if ids[i] != ids2[i])
    print(f"diverge at answer token {k-n}: base margin {m[k-1]:.3f}  | min margin before it {m[n-1:k-1].min() if k-1>n-1 else float('nan'):.3f}")
    print("   B:", repr(b[:90])); print("   A:", repr(a[:90]))
