"""Are greedy answers independent of the batch they are generated in, per weight dtype?

The bench's locality figures compare each probe's answer after an edit with its answer before,
both generated in batches. For each dtype this generates the 20 unrelated probes of the chat
protocol (32 tokens) together in one batch and one at a time, and counts identical answers.
On SmolLM2 in float32 all agree; in bfloat16 padding and batch shape change the rounding enough
to flip near-tie tokens, so locality measured on bfloat16 weights mixes in that noise.

Run: ``.venv/bin/python benchmarks/batch_invariance.py [--dtypes bfloat16,float32]``; one JSON
line per dtype.
"""

from __future__ import annotations

import argparse
import json

import torch

from prefedit.bench.backends import HFBackend
from prefedit.bench.probes import unrelated_prompts
from prefedit.bench.tasks.prompts import Context, render_probe
from prefedit.models import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dtypes", default="bfloat16,float32")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for dtype in args.dtypes.split(","):
        backend = HFBackend(load_model(dtype=dtype))
        probes = [render_probe(backend, "chat", Context(), q)[0] for q in unrelated_prompts()[:20]]
        together = backend.generate(probes, [32] * len(probes))
        alone = [backend.generate([p], [32])[0] for p in probes]
        same = sum(a == b for a, b in zip(together, alone, strict=True))
        print(json.dumps({"dtype": dtype, "probes": len(probes), "same_batched_and_alone": same}), flush=True)


if __name__ == "__main__":
    main()
