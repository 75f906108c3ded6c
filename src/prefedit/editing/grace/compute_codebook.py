"""GRACE's codebook entries: key = the layer's input at the key token, value = its trained output.

A value is trained so that replacing the layer's output with it at the key token makes the
model produce the target (teacher-forced NLL); the shared value optimisation does exactly that
when run without KL, decay or norm clamp, since replacing by v equals adding v - v₀. Entries with
different targets whose deferral balls overlap have both radii cut to half their distance
(GRACE's split rule), so no prompt is sent to the wrong value; ``split_labels="stripped"``
treats targets that differ only in surrounding whitespace as one answer. With guard prompts
(generic questions under the plan's system prompt), every radius is also cut to the distance
from its key to the nearest guard key, so the edit fires on none of them: under a long system
prompt the answer-start keys of all questions crowd together and a radius relative to the key's
norm alone would reach unrelated ones (benchmarks/key_guard.py). ``grow_from`` / ``grow_power``
let the radii widen with the token's position (``CodebookPatch``); the guard caps them at the
start of a conversation, where the guard questions are asked. ``widen`` gives every entry a
second, fixed radius beyond half the key norm, as far as the guard keys allow (``cap_at_guards``,
with or without the cap, ``guard_cap``); the patch uses the larger of the two, so the position
growth does not compound with the widening (``CodebookPatch.wide_radii``); ``raw_widen`` sets
the factor of raw-prompt entries apart (guarded by the same questions asked raw), since a
deployment's system prompt crowds the templated keys but not the raw ones.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from prefedit.deltas import CodebookPatch
from prefedit.editing.base import EditRequest
from prefedit.editing.stats import save_tensors
from prefedit.editing.values import ValueSettings, optimize_values
from prefedit.models.twin import compute_twin, resolve_compute_dtype
from prefedit.settings import Settings, get_settings

log = logging.getLogger(__name__)

NO_CLAMP = 1e6  # GRACE does not bound its values


def split_overlaps(keys: torch.Tensor, radii: torch.Tensor, labels: Sequence[str]) -> torch.Tensor:
    """Radii with every overlapping pair of differently labelled entries cut to half their distance."""
    radii = radii.clone()
    dist = torch.cdist(keys, keys)
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            if labels[i] != labels[j] and dist[i, j] < radii[i] + radii[j]:
                half = dist[i, j] / 2
                radii[i], radii[j] = torch.minimum(radii[i], half), torch.minimum(radii[j], half)
    return radii


def split_labels(requests: Sequence[EditRequest], rule: str) -> list[str]:
    """The label each entry splits on: its target, or (``stripped``) its target without surrounding
    whitespace, so a raw-prompt copy answering " Lisbon" does not cut the radius of the chat entry
    answering "Lisbon" (benchmarks/key_turns_guard.py --labels stripped)."""
    return [r.target.strip() if rule == "stripped" else r.target for r in requests]


GUARD_CACHE_SIZE = 8
GUARD_KEYS_FORMAT = "1"  # bump when prompt_keys changes what it computes: older files are then ignored
_guard_keys: dict[tuple[str, ...], torch.Tensor] = {}


def guard_keys(lm: Any, module_path: str, prompts: Sequence[str], *, settings: Settings | None = None) -> torch.Tensor:
    """Keys (answer-start inputs of ``module_path``) of ``prompts`` on the unedited ``lm``, cached
    per model, dtype, device, attention, module and prompt set: in memory, and on disk under
    ``$PREFEDIT_CACHE/stats/<fingerprint>/guard-keys/``, so that only the first edit on a machine
    computes them (every edit of a deployment uses the same guards; on SmolLM2 the 256 guard keys
    of a plan take about 1.6 s on one thread, which a one-edit CLI call would otherwise pay each time)."""
    key = (lm.fingerprint, str(lm.dtype), str(lm.device), str(getattr(lm.model.config, "_attn_implementation", None)), module_path, *prompts)
    if key not in _guard_keys:
        if len(_guard_keys) >= GUARD_CACHE_SIZE:
            _guard_keys.pop(next(iter(_guard_keys)))
        _guard_keys[key] = _stored_guard_keys(lm, module_path, prompts, key, settings or get_settings())
    return _guard_keys[key]


def _stored_guard_keys(lm: Any, module_path: str, prompts: Sequence[str], key: tuple[str, ...], settings: Settings) -> torch.Tensor:
    from prefedit.editing.values import prompt_keys

    digest = hashlib.sha256("\0".join((GUARD_KEYS_FORMAT, *key)).encode()).hexdigest()[:24]
    path = settings.cache_dir / "stats" / lm.fingerprint / "guard-keys" / f"{digest}.safetensors"
    if path.exists():
        try:
            keys = load_file(str(path))["keys"]
            if keys.ndim == 2 and keys.shape[0] == len(prompts):
                return keys
            log.warning("guard key cache %s holds shape %s for %d prompts; recomputing", path, tuple(keys.shape), len(prompts))
        except (OSError, KeyError, SafetensorError) as exc:  # a damaged cache file is recomputed, never trusted
            log.warning("guard key cache %s unreadable (%s); recomputing", path, exc)
    keys = prompt_keys(lm, lm.model.get_submodule(module_path), prompts).detach().float().cpu()
    try:
        save_tensors({"keys": keys}, path)
    except OSError as exc:  # a read-only cache costs time, not correctness
        log.warning("cannot write guard key cache %s: %s", path, exc)
    return keys


def cap_at_guards(keys: torch.Tensor, radii: torch.Tensor, guards: torch.Tensor, *, cap: bool = True,
                  widen: float | torch.Tensor = 1.0, margin: float = 0.9) -> torch.Tensor:
    """Radii bounded by the guard keys: each no larger than its key's distance d to the nearest
    guard key (``cap``), then widened up to ``widen`` x its radius where that stays within
    ``margin`` x d: ``max(r', min(widen * r, margin * d))`` with r' the (capped) radius.

    The widening reaches implicit questions whose key lies just outside the plain radius (on 30
    UPQA items, 16 of their implicit questions are within half the key norm of some entry, 22
    within 1.4 times it short of 0.9 of the guard distance, and the unrelated probes in reach
    stay at 0.5%: benchmarks/key_guard.py --widen). ``widen`` may be one factor per entry.
    """
    if guards.numel() == 0:
        return radii
    nearest = torch.cdist(keys.float(), guards.to(keys.device).float()).min(dim=1).values.to(radii.dtype)
    base = torch.minimum(radii, nearest) if cap else radii
    factor = torch.as_tensor(widen, dtype=radii.dtype, device=radii.device)
    if bool((factor <= 1.0).all()):
        return base
    return torch.maximum(base, torch.minimum(factor * radii, margin * nearest))


def widen_factors(requests: Sequence[EditRequest], config: Any) -> torch.Tensor:
    """Each entry's widening factor: ``config.raw_widen`` for raw-prompt entries (0 = ``widen``),
    ``config.widen`` for the others."""
    raw = config.raw_widen or config.widen
    return torch.tensor([raw if r.raw else config.widen for r in requests])


def codebook_patch(lm: Any, requests: Sequence[EditRequest], layer: int, config: Any,
                   guard_prompts: Sequence[str] = ()) -> tuple[CodebookPatch, dict[str, Any]]:
    """One entry per request at the layer's MLP output projection.

    With ``config.compute_dtype`` other than the model's, the values, keys and guard keys are
    computed on a cast copy of the model (``compute_twin``); every answer afterwards comes from
    the model itself.
    """
    work = compute_twin(lm, resolve_compute_dtype(config.compute_dtype, lm.device, lm.dtype))
    module = work.arch.module("mlp_out", layer)
    settings = ValueSettings(
        steps=config.steps,
        lr=config.lr,
        kl_factor=0.0,
        weight_decay=0.0,
        clamp_norm=NO_CLAMP,
        early_stop_nll=config.early_stop_nll,
        warm_start=config.warm_start,
        warm_lr=config.warm_lr,
        per_request_stop=config.per_request_stop,
    )
    found = optimize_values(work, module, requests, (), settings, layer=layer)
    v0, delta, stats, keys = found.v0, found.delta, found.stats, found.keys
    radii = split_overlaps(keys, config.radius * keys.norm(dim=1), split_labels(requests, config.split_labels))
    wide = near = guards = None
    if guard_prompts:
        # from the copy the entry keys come from: the distances compare keys computed alike, and
        # on SmolLM2 the 256 guard keys of a plan under the default system prompt take 1.8 s in
        # bfloat16 against 6.7 s in float32 on one thread (once per process; the keys differ by
        # 2.3% of their norm: benchmarks/guard_keys_speed.py --system "You are a helpful assistant.")
        guards = guard_keys(work, work.arch.path("mlp_out", layer), guard_prompts)
        factors = widen_factors(requests, config)
        if bool((factors > 1.0).any()):  # kept apart: the position growth widens the plain radii only
            wide = cap_at_guards(keys, radii, guards, cap=config.guard_cap, widen=factors, margin=config.widen_margin).cpu().contiguous()
        radii = cap_at_guards(keys, radii, guards, cap=config.guard_cap)
        if config.guard_ratio > 0:  # the guard rule, bounded by the widened radius (CodebookPatch)
            near = (factors.to(radii) * radii).cpu().contiguous()
    if near is None:
        guards = None
    patch = CodebookPatch(
        module=lm.arch.path("mlp_out", layer),
        keys=keys.cpu().contiguous(),
        values=(v0 + delta).cpu().contiguous(),
        radii=radii.cpu().contiguous(),
        grow_from=config.grow_from,
        grow_power=config.grow_power,
        wide_radii=wide,
        near_radii=near,
        # float16: a delta carries every guard key (hundreds of 1536-float keys on SmolLM2), and the
        # rule compares distances, which half precision moves by about 1e-3 of a key's norm
        guard_keys=guards.to(torch.float16).cpu().contiguous() if guards is not None else None,
        guard_ratio=config.guard_ratio if near is not None else 0.0,
    )
    return patch, {**stats, "search_dtype": str(work.dtype).removeprefix("torch.")}
