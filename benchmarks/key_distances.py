"""Distances between answer-start keys (MLP output input at the last prompt token), relative to the
explicit question's key norm, on 12 UPQA items: explicit -> paraphrased/implicit/recommendation,
nearest template-cluster key -> each, and template keys -> the nearest of the 20 unrelated probes.
This is what sets the codebook radius of the prefedit default (docs/personalize.md).

Run: ``.venv/bin/python benchmarks/key_distances.py 12,19,24`` (layers).
"""
import sys
import torch
from prefedit.bench.probes import unrelated_prompts
from prefedit.bench.tasks.data import load_tasks
from prefedit.models import chat_prompt, load_model
from prefedit.personalize import MethodSpec
from prefedit.preferences.clusters import build_cluster
torch.set_num_threads(1)
lm = load_model("smollm2-135m-instruct"); tok = lm.tokenizer
tasks = load_tasks(["../shared/data/upqa/balanced_subset.json"], limit=12, per_user=False)
probes = unrelated_prompts()
LAYERS = [int(x) for x in sys.argv[1].split(",")]
def keys(qs):
    out = {l: [] for l in LAYERS}
    for q in qs:
        ids = tok(chat_prompt(tok, q), return_tensors="pt", add_special_tokens=False).input_ids
        cap = {}
        hs = [lm.arch.module("mlp_out", l).register_forward_pre_hook(lambda m, a, l=l: cap.__setitem__(l, a[0][0, -1].detach())) for l in LAYERS]
        with torch.no_grad(): lm.model(ids)
        for h in hs: h.remove()
        for l in LAYERS: out[l].append(cap[l])
    return {l: torch.stack(v) for l, v in out.items()}
U = keys(probes)
from dataclasses import replace
for L in LAYERS:
    rel = {"paraphrased": [], "implicit": [], "recommendation": []}; unrel = []; tpl_best = {k: [] for k in rel}; tpl_unrel = []
    for it in tasks.items:
        pref = replace(it.preference, questions={})
        cl = build_cluster(pref, builders=("templates",), lm=lm)
        tq = list(cl.questions) + list(getattr(cl, "implicit", ())) + list(getattr(cl, "recommendation", ()))
        K = keys([it.questions["explicit"]] + [it.questions[k] for k in rel] + tq)[L]
        k0 = K[0]; n0 = k0.norm()
        for i, k in enumerate(rel):
            rel[k].append(float((K[1 + i] - k0).norm() / n0))
            tpl_best[k].append(float((K[4:] - K[1 + i]).norm(dim=1).min() / n0))
        unrel.append(float((U[L] - k0).norm(dim=1).min() / n0))
        tpl_unrel.append(float(torch.cdist(K[4:], U[L]).min() / n0))
    f = lambda v: f"{sum(v)/len(v):.3f}"
    print(f"L{L}: dist(explicit->x)/|k|: " + " ".join(f"{k} {f(v)}" for k, v in rel.items()) + f" | nearest unrelated {f(unrel)} (min {min(unrel):.3f})")
    print(f"      nearest template key -> " + " ".join(f"{k} {f(v)}" for k, v in tpl_best.items()) + f" | template->nearest unrelated {f(tpl_unrel)} (min {min(tpl_unrel):.3f})", flush=True)
