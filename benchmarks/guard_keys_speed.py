"""Seconds to compute the guard keys of a plan (``keys_at``: each prompt's input of the edited
layer's MLP output projection at its last token), with the prompts' shared templated head run
once (``Prefill.inputs_of``, what ``keys_at`` does) against one padded batch up to the layer,
and the same on the bfloat16 copy the value search runs on (``compute_twin``), which is where
``prefedit`` computes them.

The guard prompts are those of a ``prefedit`` plan keyed under ``--system``: the corpus
questions under that system prompt, and the same questions raw (the guards of the raw copies).
They are computed once per process and cached; before the shared head, that once was about a
second per preference of a 30-item bench run under the paper protocol's system prompt.

Run: ``.venv/bin/python benchmarks/guard_keys_speed.py [--guards 128] [--reps 3]``
"""

from __future__ import annotations

import argparse
import contextlib

import torch
from _upqa import time_alternating

from prefedit.bench.tasks.prompts import PAPER_SYSTEM_PROMPT
from prefedit.editing.anchors import anchor_questions
from prefedit.editing.base import EditRequest
from prefedit.editing.hooks import StopForward, capture
from prefedit.editing.tokens import encode_rows
from prefedit.editing.values import at_keys_per_request, build_rows, keys_at
from prefedit.models import chat_prompt, load_model
from prefedit.models.chat import raw_prompt
from prefedit.models.twin import compute_twin
from prefedit.personalize import method_spec


@torch.no_grad()
def padded_keys(lm, module, requests) -> torch.Tensor:
    """The same keys from one right-padded batch run up to the module (the way before)."""
    rows = build_rows(lm.tokenizer, requests, (), ("",))
    batch = encode_rows(lm.tokenizer, rows.texts, [None] * len(rows.texts), rows.keys).to(lm.device)
    with capture(module, stop=True) as seen, contextlib.suppress(StopForward):
        lm.model.base_model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False)
    return at_keys_per_request(seen[0], batch.key_pos, torch.tensor(rows.request, device=lm.device), len(requests))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--guards", type=int, default=128)
    ap.add_argument("--system", default=PAPER_SYSTEM_PROMPT)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model()
    layer = lm.arch.relative_layer(method_spec("prefedit").editor_overrides["layer"])
    module = lm.arch.module("mlp_out", layer)
    questions = anchor_questions(args.guards)
    prompts = [chat_prompt(lm.tokenizer, q, system=args.system) for q in questions] + [raw_prompt(lm.tokenizer, q) for q in questions]
    requests = [EditRequest(prompt=p, target="x") for p in prompts]
    twin = compute_twin(lm, torch.bfloat16)
    twin_module = twin.arch.module("mlp_out", layer)
    seconds, results = time_alternating(range(args.reps), {"padded": lambda _: padded_keys(lm, module, requests),
                                                           "shared head": lambda _: keys_at(lm, module, requests, ("",)),
                                                           "shared head, bfloat16": lambda _: keys_at(twin, twin_module, requests, ("",))})
    a, b, c = (results[-1][k].float() for k in ("padded", "shared head", "shared head, bfloat16"))

    def rel(x: torch.Tensor) -> float:
        return float(((x - a).norm(dim=1) / a.norm(dim=1)).max())

    print(f"{len(prompts)} guard prompts, {args.reps} reps, {args.threads} thread(s): padded {seconds['padded']} s, "
          f"shared head {seconds['shared head']} s ({seconds['padded'] / seconds['shared head']:.1f}x; keys within {rel(b):.1e} of their norm), "
          f"shared head on the bfloat16 copy {seconds['shared head, bfloat16']} s (keys within {rel(c):.1e}, mean "
          f"{float(((c - a).norm(dim=1) / a.norm(dim=1)).mean()):.1e})")


if __name__ == "__main__":
    main()
