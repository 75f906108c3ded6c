"""Key statistics: the uncentred second moment C = E[k kᵀ] of MLP-output-projection inputs.

ROME/MEMIT (Meng et al., 2022, 2023) weight their updates by C⁻¹ so that keys common in
ordinary text are disturbed least. C is estimated on a chat corpus that ships with prefedit
(the default model's answers to general questions, ``prefedit/data/corpus_chat_v1.jsonl``),
formatted with the tokenizer's chat template, so the keys match what the edits will see. The
result is cached under ``$PREFEDIT_CACHE/stats/<fingerprint>/``, keyed by layer, corpus and size.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from prefedit.editing.hooks import StopForward
from prefedit.models.chat import DEFAULT_SYSTEM_PROMPT, format_chat
from prefedit.settings import Settings, get_settings

log = logging.getLogger(__name__)

CORPORA = {"chat-v1": "corpus_chat_v1.jsonl"}
MAX_ROW_TOKENS = 256


def save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Write ``tensors`` to ``path`` (safetensors) so that a reader never sees a partial file: into a
    temporary file of this process first, then renamed over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def corpus_rows(corpus: str = "chat-v1") -> list[dict[str, str]]:
    """The corpus conversations as ``{"question", "answer"}`` rows, in file order."""
    lines = resources.files("prefedit.data").joinpath(CORPORA[corpus]).read_text().splitlines()
    return [json.loads(line) for line in lines]


def corpus_texts(lm: Any, corpus: str = "chat-v1") -> list[str]:
    """The corpus conversations rendered with ``lm``'s chat template."""
    texts = []
    for row in corpus_rows(corpus):
        msgs = [
            {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
            {"role": "user", "content": row["question"]},
            {"role": "assistant", "content": row["answer"]},
        ]
        texts.append(format_chat(lm.tokenizer, msgs, add_generation_prompt=False))
    return texts


def _cache_path(lm: Any, layer: int, corpus: str, n_tokens: int, settings: Settings) -> Path:
    return settings.cache_dir / "stats" / lm.fingerprint / corpus / f"layer{layer}-{n_tokens}.safetensors"


@torch.no_grad()
def _estimate(lm: Any, layers: list[int], corpus: str, n_tokens: int, batch_size: int = 8) -> dict[int, torch.Tensor]:
    ids = [lm.tokenizer(t, add_special_tokens=False)["input_ids"][:MAX_ROW_TOKENS] for t in corpus_texts(lm, corpus)]
    sums = {layer: None for layer in layers}
    count = 0
    deepest = max(layers)
    captured: dict[int, torch.Tensor] = {}

    def make_hook(layer: int) -> Any:
        def hook(_m: Any, args: tuple[Any, ...]) -> None:
            captured[layer] = args[0].detach()
            if layer == deepest:
                raise StopForward  # later layers are not needed
        return hook

    handles = [lm.arch.module("mlp_out", layer).register_forward_pre_hook(make_hook(layer)) for layer in layers]
    try:
        for start in range(0, len(ids), batch_size):
            if count >= n_tokens:
                break
            chunk = ids[start : start + batch_size]
            width = max(len(r) for r in chunk)
            inp = torch.zeros((len(chunk), width), dtype=torch.long)
            mask = torch.zeros_like(inp)
            for i, r in enumerate(chunk):
                inp[i, : len(r)], mask[i, : len(r)] = torch.tensor(r), 1
            with contextlib.suppress(StopForward):
                lm.model(input_ids=inp.to(lm.device), attention_mask=mask.to(lm.device))
            keep = mask.bool().to(lm.device)
            for layer in layers:
                k = captured[layer][keep].double()  # [n_tok, d_in]
                s = k.T @ k
                sums[layer] = s if sums[layer] is None else sums[layer] + s
            count += int(keep.sum())
    finally:
        for h in handles:
            h.remove()
    return {layer: (s / count).float().cpu() for layer, s in sums.items()}  # type: ignore[union-attr]


def key_second_moment(
    lm: Any,
    layers: list[int],
    *,
    corpus: str = "chat-v1",
    n_tokens: int = 20000,
    settings: Settings | None = None,
) -> dict[int, torch.Tensor]:
    """C = E[k kᵀ] (``[d_in, d_in]``, float32) for each layer, from the cache or estimated now.

    ``n_tokens`` caps the corpus tokens used (the shipped corpus holds about 20k).
    """
    settings = settings or get_settings()
    out: dict[int, torch.Tensor] = {}
    missing = []
    for layer in layers:
        path = _cache_path(lm, layer, corpus, n_tokens, settings)
        if path.exists():
            out[layer] = load_file(str(path))["C"]
        else:
            missing.append(layer)
    if missing:
        log.info("estimating key statistics for layers %s on %s (%d tokens)", missing, corpus, n_tokens)
        for layer, c in _estimate(lm, missing, corpus, n_tokens).items():
            save_tensors({"C": c}, _cache_path(lm, layer, corpus, n_tokens, settings))
            out[layer] = c
    return out


def _answer_start_path(lm: Any, layer: int, corpus: str, settings: Settings) -> Path:
    return settings.cache_dir / "stats" / lm.fingerprint / corpus / f"layer{layer}-answer-start.safetensors"


@torch.no_grad()
def answer_start_keys(lm: Any, layer: int, *, corpus: str = "chat-v1", settings: Settings | None = None) -> torch.Tensor:
    """Keys at the answer-start token (last prompt token) of the corpus questions: ``[n, d_in]``.

    Edits keyed at the last prompt token share that position with every other chat prompt;
    these keys are what an edit must leave alone (preserved keys, as in AlphaEdit's K0).
    """
    settings = settings or get_settings()
    path = _answer_start_path(lm, layer, corpus, settings)
    if path.exists():
        return load_file(str(path))["K"]
    from prefedit.models.chat import chat_prompt

    prompts = [chat_prompt(lm.tokenizer, row["question"]) for row in corpus_rows(corpus)]
    module = lm.arch.module("mlp_out", layer)
    keys = []
    for start in range(0, len(prompts), 16):
        enc = [lm.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts[start : start + 16]]
        width = max(len(e) for e in enc)
        ids = torch.zeros((len(enc), width), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, e in enumerate(enc):
            ids[i, : len(e)], mask[i, : len(e)] = torch.tensor(e), 1
        captured: list[torch.Tensor] = []

        def hook(_m: Any, args: tuple[Any, ...]) -> None:
            captured.append(args[0].detach())
            raise StopForward

        handle = module.register_forward_pre_hook(hook)
        try:
            with contextlib.suppress(StopForward):
                lm.model(input_ids=ids.to(lm.device), attention_mask=mask.to(lm.device))
        finally:
            handle.remove()
        last = mask.sum(1) - 1
        keys.append(captured[0][torch.arange(len(enc)), last.to(lm.device)].float().cpu())
    out = torch.cat(keys)
    save_tensors({"K": out}, path)
    return out
