"""Why a prefedit codebook stops firing late in a conversation: for the first N UPQA items, the
share of questions whose answer-start key falls within a relative radius of the nearest entry
of that item's ``prefedit`` plan, asked after 0 / 2 / 4 / 10 distractor turns
(``../shared/data/distractors/inter_turns.json``, as ``prefedit bench --turns`` builds them),
next to the share of the 20 unrelated probes (``bench.probes.unrelated_prompts``) asked
after the same turns whose key falls that close: at their answer-start token ("last") and at any
token of the prompt ("any": the codebook is checked at every position). Keys: the input of the
MLP output projection at 2/3 depth (the default) and at 0.83 depth; distance relative to the
entry key's norm (the codebook's rule).

Run: ``.venv/bin/python benchmarks/key_turns.py [--n 8] [--threads 2]`` (about 6 minutes at 2 threads).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from prefedit.bench.probes import unrelated_prompts
from prefedit.bench.tasks.data import load_tasks
from prefedit.bench.tasks.distractors import load_distractor_pairs
from prefedit.bench.tasks.prompts import Context, conversation
from prefedit.models import chat_prompt, load_model
from prefedit.personalize import method_spec, plan_for

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TURNS = (0, 2, 4, 10)
DEPTHS = (0.66, 0.83)
RADII = (0.5, 0.6, 0.7)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model()
    tok = lm.tokenizer
    layers = {d: lm.arch.relative_layer(d) for d in DEPTHS}
    seen: dict[int, torch.Tensor] = {}
    for layer in set(layers.values()):
        lm.arch.module("mlp_out", layer).register_forward_pre_hook(lambda m, a, layer=layer: seen.__setitem__(layer, a[0][0].detach().clone()))

    @torch.no_grad()
    def inputs(prompt: str) -> dict[int, torch.Tensor]:
        lm.model(input_ids=tok(prompt, return_tensors="pt", add_special_tokens=False).input_ids, use_cache=False)
        return dict(seen)

    pairs = load_distractor_pairs(DATA / "distractors" / "inter_turns.json")
    probes = unrelated_prompts()
    probe_inputs = {t: [inputs(chat_prompt(tok, p, history=conversation(Context(), pairs, t))) for p in probes] for t in TURNS}
    spec = method_spec("prefedit")
    dist: dict[tuple[float, int, str], list[float]] = {}
    for it in load_tasks([DATA / "upqa" / "balanced_subset.json"], limit=args.n, per_user=False).items:
        entry = [inputs(r.prompt) for r in plan_for(lm, it.preference, spec).requests]
        for depth, layer in layers.items():
            keys = torch.stack([e[layer][-1] for e in entry])

            def nearest(h: torch.Tensor, keys: torch.Tensor = keys) -> torch.Tensor:
                return (torch.cdist(h, keys) / keys.norm(dim=1)).min(1).values

            for t in TURNS:
                for kind in ("explicit", "implicit"):
                    h = inputs(chat_prompt(tok, it.questions[kind], history=conversation(Context(), pairs, t)))[layer]
                    dist.setdefault((depth, t, kind), []).append(float(nearest(h[-1:])[0]))
                for p in probe_inputs[t]:
                    dist.setdefault((depth, t, "probe last"), []).append(float(nearest(p[layer][-1:])[0]))
                    dist.setdefault((depth, t, "probe any"), []).append(float(nearest(p[layer]).min()))
    print(f"share within the radius of the nearest entry, {args.n} items; turns {', '.join(map(str, TURNS))}")
    for depth in DEPTHS:
        for radius in RADII:
            cols = []
            for kind in ("explicit", "implicit", "probe last", "probe any"):
                shares = [sum(d < radius for d in dist[(depth, t, kind)]) / len(dist[(depth, t, kind)]) for t in TURNS]
                cols.append(f"{kind} " + "/".join(f"{100 * s:.0f}" for s in shares))
            print(f"depth {depth} (layer {layers[depth]}), radius {radius}: " + "; ".join(cols))


if __name__ == "__main__":
    main()
