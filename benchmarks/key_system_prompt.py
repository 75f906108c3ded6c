"""How far a system prompt moves an answer-start key (the prefedit codebook's key: the input of
the MLP output projection at 2/3 depth, last prompt token), relative to the key's norm, on 10
UPQA items: the recommendation and explicit questions under the fixed system prompt, under the
paper protocol's "respond concisely" system prompt, and under the template's own default (no
system message). The prefedit codebook fires within 0.5 of the key's norm.

Run: ``.venv/bin/python benchmarks/key_system_prompt.py`` (from the repository root).
"""

from __future__ import annotations

import torch

from prefedit.bench.tasks.data import load_tasks
from prefedit.bench.tasks.prompts import PAPER_SYSTEM_PROMPT
from prefedit.editing.values import prompt_keys
from prefedit.models import chat_prompt, load_model


def main() -> None:
    torch.set_num_threads(1)
    lm = load_model("smollm2-135m-instruct")
    module = lm.arch.module("mlp_out", lm.arch.relative_layer(0.66))
    items = load_tasks(["../shared/data/upqa/balanced_subset.json"], limit=10, per_user=False).items
    pairs: dict[str, list[float]] = {}
    for it in items:
        for kind in ("recommendation", "explicit"):
            q = it.questions[kind]
            prompts = [chat_prompt(lm.tokenizer, q), chat_prompt(lm.tokenizer, q, system=PAPER_SYSTEM_PROMPT), chat_prompt(lm.tokenizer, q, system=None)]
            k = prompt_keys(lm, module, prompts)
            norm = float(k[0].norm())
            pairs.setdefault(f"{kind}: fixed -> paper system prompt", []).append(float((k[0] - k[1]).norm()) / norm)
            pairs.setdefault(f"{kind}: fixed -> template default", []).append(float((k[0] - k[2]).norm()) / norm)
    for name, ds in pairs.items():
        print(f"{name}: mean {sum(ds) / len(ds):.2f}, min {min(ds):.2f}, max {max(ds):.2f} (of the key norm, {len(ds)} items)")


if __name__ == "__main__":
    main()
