"""Every editor on a randomly initialised Llama-3-8B-shaped model in bf16 on a GPU: time per
preference and peak GPU memory, beside full fine-tuning with the same fixed step count.

Run (GPU): ``.venv/bin/python benchmarks/editors_gpu.py [--n 5] [--ft-steps 25] [--optimizer sgd]``.
Check it on CPU: ``.venv/bin/python benchmarks/editors_gpu.py --config tiny --device cpu --dtype float32``.
``--config`` takes ``llama3-8b`` (default), ``tiny`` or a path to a Hugging Face config.json.

The weights are random, so only cost is measured (not edit quality). The tokenizer is
SmolLM2's (no hub access); its ids are a subset of the model's vocabulary. Key statistics and
null-space projectors are computed first and timed separately (``statistics_seconds``), so the
per-preference figures are warm-cache costs. Full fine-tuning trains every weight for
``--ft-steps`` steps on the same prompts with SGD (no optimiser state) or AdamW whose states are
kept in bf16; it runs last because it changes the weights. Peak memory is
``torch.cuda.max_memory_allocated`` on GPU and peak RSS on CPU. Prints one JSON line per method.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from typing import Any

import torch

EDITORS = ("rome", "memit", "alphaedit", "ft-m", "ft-l", "lora", "grace")
LLAMA3_8B = dict(
    vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
    num_key_value_heads=8, max_position_embeddings=8192, rope_theta=500000.0, rms_norm_eps=1e-5, tie_word_embeddings=False,
)
TINY = dict(vocab_size=49152, hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048)
PREFS = [
    ("Which city do I live in?", "Lisbon"), ("What programming language do I use?", "Python"), ("What am I allergic to?", "shellfish"),
    ("Which sport do I play?", "tennis"), ("What is my cat's name?", "Miso"), ("What music do I like?", "jazz"),
    ("What is my job?", "nurse"), ("What do I drink in the morning?", "green tea"),
]


def smollm2_tokenizer() -> Any:
    """SmolLM2's tokenizer from the packaged model (converted into the regular cache once)."""
    from transformers import AutoTokenizer

    from prefedit.models import load as load_mod
    from prefedit.settings import get_settings

    return AutoTokenizer.from_pretrained(load_mod.convert_packaged(load_mod.MODELS.get(load_mod.DEFAULT_MODEL), get_settings()))


def build_model(args: argparse.Namespace, tok: Any) -> Any:
    from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig

    from prefedit.models.load import wrap_model

    if args.config in ("llama3-8b", "tiny"):
        cfg = LlamaConfig(**(LLAMA3_8B if args.config == "llama3-8b" else TINY))
    else:
        cfg = AutoConfig.from_pretrained(args.config)
    cfg.vocab_size = max(cfg.vocab_size, len(tok))
    cfg.pad_token_id, cfg.eos_token_id, cfg.bos_token_id = tok.pad_token_id, tok.eos_token_id, tok.bos_token_id
    torch.manual_seed(0)
    with torch.device(args.device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=getattr(torch, args.dtype))
    return wrap_model(model, tok, name=f"random-{args.config}")


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def peak_mb(device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plans(lm: Any, n: int) -> list[Any]:
    from prefedit.editing.plan import plan_preference
    from prefedit.preferences.types import Preference

    prefs = [Preference(id=f"p{i}", statement=q, subject="preference", target=t, questions={"explicit": q}) for i, (q, t) in enumerate(PREFS[:n])]
    return [plan_preference(lm.tokenizer, p) for p in prefs]


def warm(lm: Any, name: str, config: Any) -> float:
    """Key statistics / projectors for an editor, computed before timing (uses the first plan once)."""
    from prefedit.editing.alphaedit.compute_projection import projectors
    from prefedit.editing.stats import key_second_moment

    start = time.perf_counter()
    if name == "alphaedit":
        projectors(lm, config.layer_indices(lm), corpus=config.corpus, n_tokens=config.stats_tokens, energy=config.nullspace_energy)
    elif hasattr(config, "stats_tokens"):
        layers = config.layer_indices(lm) if hasattr(config, "layer_indices") else [config.layer_index(lm)]
        key_second_moment(lm, layers, corpus=config.corpus, n_tokens=config.stats_tokens)
    return time.perf_counter() - start


def run_editor(lm: Any, name: str, ps: list[Any], args: argparse.Namespace) -> dict[str, Any]:
    from prefedit.editing import get_editor

    editor = get_editor(name)
    config = editor.default_config(lm)
    stats_s = warm(lm, name, config)
    reset_peak(args.device)
    times = []
    for plan in ps:
        start = time.perf_counter()
        editor.compute(lm, plan, config)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return {"method": name, "seconds_per_preference": round(sum(times) / len(times), 3), "peak_memory_mb": round(peak_mb(args.device), 1),
            "statistics_seconds": round(stats_s, 2), "steps": getattr(config, "steps", None)}


def run_full_ft(lm: Any, ps: list[Any], args: argparse.Namespace) -> dict[str, Any]:
    """Full fine-tuning baseline: every weight trainable, ``--ft-steps`` steps per preference (weights are changed)."""
    from prefedit.editing.ft.compute_finetune import encode_requests, target_loss

    model = lm.model
    params = [p for p in model.parameters()]
    for p in params:
        p.requires_grad_(True)
    if args.optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(params, lr=1e-4)
    else:  # AdamW on bf16 parameters keeps its two states in bf16 too
        opt = torch.optim.AdamW(params, lr=1e-5, foreach=False)
    reset_peak(args.device)
    times = []
    for plan in ps:
        batch = encode_requests(lm.tokenizer, plan.requests).to(lm.device)
        start = time.perf_counter()
        for _ in range(args.ft_steps):
            opt.zero_grad(set_to_none=True)
            target_loss(model, batch).backward()
            opt.step()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    label = "full-ft (sgd, no optimiser state)" if args.optimizer == "sgd" else f"full-ft (adamw, {args.dtype} states)"
    return {"method": label, "seconds_per_preference": round(sum(times) / len(times), 3),
            "peak_memory_mb": round(peak_mb(args.device), 1), "steps": args.ft_steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="llama3-8b", help="llama3-8b, tiny, or a path to a config.json")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bfloat16", help="bfloat16 (default), float16 or float32")
    ap.add_argument("--n", type=int, default=5, help="preferences per method")
    ap.add_argument("--editors", default=",".join(EDITORS))
    ap.add_argument("--ft-steps", type=int, default=25, help="full fine-tuning steps per preference (FT-M/FT-L's default)")
    ap.add_argument("--optimizer", choices=("sgd", "adamw"), default="sgd")
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("error: no CUDA device\n\nhint: check it on CPU with --config tiny --device cpu --dtype float32")
    tok = smollm2_tokenizer()
    # Random weights: their key statistics (about 0.8 GB per layer at 8B) are throwaway.
    cache = tempfile.TemporaryDirectory(prefix="prefedit-gpu-bench-")
    os.environ["PREFEDIT_CACHE"] = cache.name
    lm = build_model(args, tok)
    ps = plans(lm, args.n)
    header = {"model": lm.name, "device": args.device, "dtype": args.dtype, "n": len(ps), "parameters": sum(p.numel() for p in lm.model.parameters()),
              "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None, "cache": os.environ["PREFEDIT_CACHE"]}
    print(json.dumps(header), flush=True)
    for name in args.editors.split(","):
        print(json.dumps(run_editor(lm, name, ps, args)), flush=True)
    print(json.dumps(run_full_ft(lm, ps, args)), flush=True)
    cache.cleanup()


if __name__ == "__main__":
    main()
