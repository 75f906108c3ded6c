"""Which prompts fall inside a prefedit codebook's deferral radius (so the edit fires there),
with and without a guard cap: each entry's radius capped at ``margin`` x the distance from its key
to the nearest key of generic "guard" questions (questions of the shipped chat corpus, none of
them a bench locality probe) asked under the same system prompt. Keys only (no value training,
no generation): a fast proxy for how often an edit answers its own questions and how often it
touches unrelated ones.

For ``--limit`` UPQA items, under prefedit's default system prompt and under a deployment's
(``--system``): the share of explicit, paraphrased and implicit questions and of the 20 unrelated
locality prompts whose key lies within some entry's radius.

``--widen 1.2,1.4`` adds rows for radii widened up to that factor short of ``--widen-margin`` x
the nearest guard distance (``cap_at_guards``; capped first under the deployment prompt, as
``with_system`` keys it, uncapped under the default prompt, as ``prefedit`` keys it).

``--guard-ratios 0.9,0.95`` adds, for each widening factor, rows with the codebook's guard rule
on top (``CodebookPatch.guard_ratio``: an entry also reaches a prompt nearer to it than that ratio
x the prompt's distance to the nearest guard key, templated or raw, within the widened radius),
evaluated by ``codebook_output`` itself: there only the nearest entry's radii count, where the
other rows count a prompt within the radius of any entry, so a guard-rule row can miss a prompt
that lies within some farther entry's radius.

``--chats N`` adds a column: the share of (item, message) pairs within reach for the first N user
messages under 300 characters of the distractor conversations
(``../shared/data/distractors/inter_turns.json``, real chat requests that no guard question
comes from): a wider check of locality than the 20 probes.

``--types job,profession`` keeps only items of those attribute types (after ``--offset`` and
``--limit``); ``--system ''`` skips the deployment prompt's rows.

Run: ``.venv/bin/python benchmarks/key_guard.py [--limit 12] [--guards 64] [--margins 1.0,0.8] [--widen 1.4]``
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch

from prefedit.bench.probes import unrelated_prompts
from prefedit.bench.tasks.distractors import default_distractors_path, load_distractor_pairs
from prefedit.bench.tasks.data import load_tasks
from prefedit.deltas.delta import CodebookPatch, codebook_output
from prefedit.editing.anchors import guard_prompts_text
from prefedit.editing.grace.compute_codebook import cap_at_guards, split_labels, split_overlaps
from prefedit.editing.values import prompt_keys
from prefedit.models import chat_prompt, load_model
from prefedit.models.chat import DEFAULT_SYSTEM_PROMPT, raw_prompt
from prefedit.personalize import method_spec, plan_for, with_system

QUERIES = ("explicit", "paraphrased", "implicit", "recommendation")
SOL = "You are Sol, the assistant of a small travel agency. Answer in one or two sentences."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/upqa/balanced_subset.json")
    ap.add_argument("--limit", type=int, default=12)
    ap.add_argument("--offset", type=int, default=0, help="skip this many items first (a held-out slice)")
    ap.add_argument("--guards", type=int, default=64)
    ap.add_argument("--margins", default="1.0,0.8,0.6")
    ap.add_argument("--system", default=SOL, help="the deployment's system prompt ('' skips its rows)")
    ap.add_argument("--types", default="", help="only items of these comma-separated attribute types (e.g. 'job,profession')")
    ap.add_argument("--widen", default="", help="comma-separated widening factors (default none)")
    ap.add_argument("--widen-margin", type=float, default=0.9)
    ap.add_argument("--guard-ratios", default="", help="comma-separated guard-rule ratios, each with every --widen factor (default none)")
    ap.add_argument("--guard-requests", type=int, default=0, help="also guard with this many of the shipped generic requests (guard_requests.json)")
    ap.add_argument("--chats", type=int, default=0, help="also count the first N short user messages of the distractor conversations in reach")
    ap.add_argument("--implicit", type=int, default=None, help="implicit template questions keyed per item (default: prefedit's)")
    ap.add_argument("--recommendation", type=int, default=None, help="recommendation template questions keyed per item (default: prefedit's)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_model("smollm2-135m-instruct")
    spec = method_spec("prefedit")
    spec = replace(spec, implicit=spec.implicit if args.implicit is None else args.implicit,
                   recommendation=spec.recommendation if args.recommendation is None else args.recommendation)
    module = lm.arch.module("mlp_out", lm.arch.relative_layer(spec.editor_overrides["layer"]))
    items = load_tasks([args.data], limit=args.offset + args.limit, per_user=False).items[args.offset :]
    if args.types:
        items = tuple(it for it in items if it.type_key in args.types.split(","))
        if not items:
            raise SystemExit(f"no item of type(s) {args.types!r} among the {args.offset + args.limit} first of {args.data}")
    unrelated = unrelated_prompts()
    chats: list[str] = []
    if args.chats:
        found = default_distractors_path([args.data])
        if found is None:
            raise SystemExit(f"--chats: no distractors/inter_turns.json next to the folder of {args.data}")
        chats = [user for user, _ in load_distractor_pairs(found) if len(user) < 300][: args.chats]
    guards = guard_prompts_text(args.guards, args.guard_requests)
    assert not set(guards) & set(unrelated)
    margins = [None, *(float(m) for m in args.margins.split(","))]
    widens = [float(w) for w in args.widen.split(",") if w]
    ratios = [float(r) for r in args.guard_ratios.split(",") if r]
    if ratios and not widens:
        raise SystemExit("--guard-ratios needs --widen (the guard rule reaches as far as the widened radius)")

    def keys(prompts: list[str]) -> torch.Tensor:
        return torch.cat([prompt_keys(lm, module, prompts[i : i + 64]) for i in range(0, len(prompts), 64)])

    print(f"{len(items)} items, {len(guards)} guard prompts ({args.guards} corpus questions, {args.guard_requests} generic requests); share of prompts within some entry's radius")
    extra = f" {len(chats)} chat messages |" if chats else ""
    print(f"| system prompt | cap | explicit | paraphrased | implicit | recommendation | unrelated |{extra}\n|---|---|---|---|---|---|---|{'---|' if chats else ''}")
    for label, system in (("default", DEFAULT_SYSTEM_PROMPT), ("deployment", args.system))[: 2 if args.system else 1]:
        s = replace(with_system(spec, system), guard_requests=args.guard_requests)
        guard_keys = keys([chat_prompt(lm.tokenizer, q, system=system) for q in guards])
        probe_keys = keys([chat_prompt(lm.tokenizer, q, system=system) for q in unrelated])
        chat_keys = keys([chat_prompt(lm.tokenizer, q, system=system) for q in chats]) if chats else None
        all_guards = torch.cat([guard_keys, keys([raw_prompt(lm.tokenizer, q) for q in guards])]) if ratios else guard_keys
        fired: dict[object, dict[str, int]] = {}  # per radius rule, in the order first seen
        for it in items:
            plan = plan_for(lm, it.edit_view(), s)
            k = keys([r.prompt for r in plan.requests])
            radii = split_overlaps(k, spec.editor_overrides["radius"] * k.norm(dim=1), split_labels(plan.requests, spec.editor_overrides["split_labels"]))
            asked = {q: keys([chat_prompt(lm.tokenizer, it.questions[q], system=system)]) for q in QUERIES}
            nearest_guard = torch.cdist(k, guard_keys).min(dim=1).values
            caps: dict[object, torch.Tensor] = {m: radii if m is None else torch.minimum(radii, m * nearest_guard) for m in margins}
            for w in widens:
                caps[f"widen {w}"] = cap_at_guards(k, radii, guard_keys, cap=label == "deployment", widen=w, margin=args.widen_margin)
            for m, r in caps.items():
                f_m = fired.setdefault(m, {**dict.fromkeys(QUERIES, 0), "unrelated": 0, "chats": 0})
                for q, qk in asked.items():
                    f_m[q] += bool((torch.cdist(qk, k)[0] < r).any())
                f_m["unrelated"] += int((torch.cdist(probe_keys, k) < r).any(dim=1).sum())
                if chat_keys is not None:
                    f_m["chats"] += int((torch.cdist(chat_keys, k) < r).any(dim=1).sum())
            for w in widens:
                for ratio in ratios:
                    patch = CodebookPatch("m", k, torch.ones_like(k[:, :1]), radii, wide_radii=caps[f"widen {w}"],
                                          near_radii=w * radii, guard_keys=all_guards, guard_ratio=ratio)
                    f_m = fired.setdefault(f"widen {w}, guard rule {ratio}", {**dict.fromkeys(QUERIES, 0), "unrelated": 0, "chats": 0})
                    for q, qk in asked.items():
                        f_m[q] += bool(codebook_output(patch, qk, torch.zeros(len(qk), 1)).any())
                    f_m["unrelated"] += int(codebook_output(patch, probe_keys, torch.zeros(len(probe_keys), 1)).bool().sum())
                    if chat_keys is not None:
                        f_m["chats"] += int(codebook_output(patch, chat_keys, torch.zeros(len(chat_keys), 1)).bool().sum())
        n = len(items)
        for m, f in fired.items():
            cap = "none" if m is None else m if isinstance(m, str) else f"{m} x nearest guard"
            print(f"| {label} | {cap} | {f['explicit']}/{n} | {f['paraphrased']}/{n} | {f['implicit']}/{n} | {f['recommendation']}/{n} | {f['unrelated'] / (n * len(unrelated)):.3f} |"
                  + (f" {f['chats'] / (n * len(chats)):.3f} |" if chats else ""))


if __name__ == "__main__":
    main()
