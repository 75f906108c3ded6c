"""The reference's editing presets ("Towards Effective Model Editing for LLM Personalization",
Huang et al., 2025; amazon-science/personalization-editing-upqa), run through our editors.

Each preset is an editor with the reference's EasyEdit hyperparameters for the Llama family
(``hparams/<METHOD>/llama3-8b.yaml``) and its subject-keyed plan: the raw explicit question as
prompt, the key at the subject's last token. Layer indices of the 32-layer Llama-3-8B are kept
as fractions of depth (layer / 31), so they carry to other depths. Departures, each forced by
what our editors expose, are listed in ``DEPARTURES`` and recorded in the run's summary.

``paper-rome-cluster`` edits the 9 (subject, question, target) variants of a clustered item
one after another, each on the model with the earlier ones applied. As in the reference
(``edit_cluster.py`` with its default ``same_target``), every variant gets the item's original
target.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from prefedit.deltas import Delta, apply_delta, compose, revert_delta
from prefedit.errors import DataError
from prefedit.personalize import MethodSpec, preference_delta
from prefedit.preferences.types import Preference

log = logging.getLogger(__name__)

_DEPTH = 31  # Llama-3-8B: layer indices 0..31


@dataclass(frozen=True)
class PaperPreset:
    name: str
    editor: str
    overrides: dict[str, Any] = field(default_factory=dict)
    reference: str = ""
    description: str = ""


PRESETS: dict[str, PaperPreset] = {
    p.name: p
    for p in (
        PaperPreset(
            "paper-rome", "rome",
            {"layer": 5 / _DEPTH, "use_covariance": False, "steps": 25, "lr": 0.5, "weight_decay": 1e-3,
             "kl_factor": 0.0625, "clamp_norm": 4.0, "early_stop_nll": 0.05,
             # the reference's ROME: one rank-one edit after another, no preserved-key term
             "joint": False, "preserve_weight": 0.0},
            "hparams/ROME/llama3-8b.yaml",
            "the reference's ROME: layer 5/31, no key covariance (mom2_adjustment false), 21 sampled context "
            "templates, subject-keyed raw-question plan",
        ),
        PaperPreset(
            "paper-ft-m", "ft-m",
            {"layer": 21 / _DEPTH, "steps": 25, "lr": 5e-4, "weight_decay": 0.0, "norm_constraint": None, "batch_size": 1},
            "hparams/FT-M/llama3-8b.yaml", "the reference's FT-M (layer 21/31, 25 steps, lr 5e-4), subject-keyed plan",
        ),
        PaperPreset(
            "paper-ft-l", "ft-l",
            {"layer": 21 / _DEPTH, "steps": 25, "lr": 5e-4, "weight_decay": 0.0, "norm_constraint": None, "batch_size": 1},
            "hparams/FT-L/llama3-8b.yaml", "the reference's FT-L (prompt_last objective, layer 21/31), subject-keyed plan",
        ),
        PaperPreset(
            "paper-lora", "lora",
            {"rank": 8, "alpha": 32.0, "dropout": 0.1, "steps": 70, "lr": 5e-3, "weight_decay": 0.0, "batch_size": 1,
             "components": ("attn_out",),
             # the released loop runs all 70 passes (its loss-based early stop is commented out)
             "early_stop_loss": 0.0},
            "hparams/LoRA/llama3-8b.yaml", "the reference's LoRA (r 8, alpha 32, 70 steps, lr 5e-3) on attention, subject-keyed plan",
        ),
        PaperPreset(
            "paper-grace", "grace",
            {"layer": 27 / _DEPTH, "steps": 50, "lr": 1.0},
            "hparams/GRACE/llama3-8b.yaml", "the reference's GRACE (layer 27/31, 50 steps, edit lr 1.0), subject-keyed plan",
        ),
    )
}
CLUSTER_PRESET = "paper-rome-cluster"

DEPARTURES: dict[str, list[str]] = {
    "paper-lora": ["adapts all attention output projections (attn_out): our LoRA editor exposes no q_proj/v_proj "
                   "components; plain LoRA instead of AdaLoRA; trains on prompt + target without the released "
                   "' <|endoftext|>' suffix"],
    "paper-grace": ["deferral radius relative to the key norm (our GRACE), not the reference's absolute eps = 1.0; "
                    "values start warm, not cold"],
}


def reference_context_prefixes(lm: Any, seed: int) -> tuple[str, ...]:
    """ROME's context templates: "" plus 20 texts sampled top-5 from the model after "The",
    "Therefore", "Because", "I", "You" (10 of 5 tokens, 10 of 10 tokens), each ending in ". "."""
    tok, model = lm.tokenizer, lm.model
    gen = torch.Generator(device="cpu").manual_seed(seed)
    out = [""]
    for length in (5, 10):
        for start in ("The", "Therefore", "Because", "I", "You"):
            ids = tok(start, return_tensors="pt", add_special_tokens=False).input_ids.to(lm.device)
            for _ in range(2):
                seq = ids
                with torch.no_grad():
                    while seq.shape[1] < length:
                        logits = model(input_ids=seq).logits[0, -1].float().cpu()
                        top = torch.topk(logits, 5)
                        pick = top.indices[torch.multinomial(torch.softmax(top.values, -1), 1, generator=gen)]
                        seq = torch.cat([seq, pick.view(1, 1).to(seq.device)], dim=1)
                text = tok.decode(seq[0], skip_special_tokens=True).replace("{", "").replace("}", "")
                out.append(text + ". ")
    return tuple(out)


def paper_spec(name: str, lm: Any, seed: int = 0) -> tuple[MethodSpec, list[str]]:
    """The MethodSpec of a preset, and the overrides our editor's config does not have (dropped)."""
    preset = PRESETS["paper-rome" if name == CLUSTER_PRESET else name]
    from prefedit.editing import get_editor

    fields = {f.name for f in dataclasses.fields(get_editor(preset.editor).config_class)}
    overrides = {k: v for k, v in preset.overrides.items() if k in fields}
    dropped = sorted(set(preset.overrides) - fields)
    if preset.editor == "rome" and "context_prefixes" in fields:
        overrides["context_prefixes"] = reference_context_prefixes(lm, seed)
    if "seed" in fields:
        overrides["seed"] = seed
    if dropped:
        log.warning("%s: editor %s has no fields %s; they keep our defaults", name, preset.editor, dropped)
    return MethodSpec(editor=preset.editor, style="subject", builders=(), max_requests=1, editor_overrides=overrides), dropped


def cluster_variants(pref: Preference) -> list[Preference]:
    """The 9 (subject, question, original target) edit variants of a clustered preference."""
    subjects, questions = pref.given_subjects, pref.given_questions
    if len(subjects) < 2 or len(subjects) != len(questions):
        raise DataError(
            f"item {pref.id!r} has no (subject, question) cluster: {CLUSTER_PRESET} needs clustered UPQA data",
            hint="use a *_cluster9.json file, e.g. ../shared/data/upqa/balanced_subset_cluster9.json",
        )
    return [
        replace(pref, id=pref.id, subject=s, questions={"explicit": q}, given_subjects=(), given_questions=(), given_targets=())
        for s, q in zip(subjects, questions, strict=True)
    ]


def cluster_delta(lm: Any, pref: Preference, spec: MethodSpec) -> Delta:
    """The variants edited one after another (each sees the earlier ones), as one composed delta."""
    start = time.perf_counter()
    parts: list[Delta] = []
    try:
        for variant in cluster_variants(pref):
            part = preference_delta(lm, variant, CLUSTER_PRESET, spec=spec)
            apply_delta(lm, part)
            parts.append(part)
    finally:
        for part in reversed(parts):
            revert_delta(lm, part)
    delta = compose(parts, editor=spec.editor)
    delta.info.preference_ids = [pref.id]
    delta.info.extra = {"method": CLUSTER_PRESET, "seconds": time.perf_counter() - start, "requests": len(parts)}
    return delta
