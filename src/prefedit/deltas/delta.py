"""The Delta type (what an edit changed) and applying / reverting it on a LIFO stack.

A Delta is data: low-rank factors (``W += up @ down`` in the parameter's own layout), dense
differences, and codebook patches (GRACE-style key -> value replacements at one module, which
change activations rather than weights). Revert restores the saved original tensors, so it is
bit-exact in any dtype; nothing is ever subtracted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from prefedit.errors import DeltaMismatchError, EditError


@dataclass
class LowRankUpdate:
    """``param += up @ down``; ``up`` is ``[rows, r]`` and ``down`` ``[r, cols]`` in the param's layout."""

    param: str
    up: torch.Tensor
    down: torch.Tensor

    @property
    def rank(self) -> int:
        return self.up.shape[1]

    def dense(self) -> torch.Tensor:
        return self.up.float() @ self.down.float()


@dataclass
class DenseUpdate:
    """``param += diff``."""

    param: str
    diff: torch.Tensor

    def dense(self) -> torch.Tensor:
        return self.diff.float()


@dataclass
class CodebookPatch:
    """Replace ``module``'s output at positions whose input lies within ``radii`` of a key.

    keys: ``[n, d_in]``; values: ``[n, d_out]``; radii: ``[n]`` (L2 distance in input space).
    With ``grow_from`` > 0 a radius widens with the token's position p (its position id):
    ``radius * max(1, p / grow_from) ** grow_power``, so an entry keyed on a question asked at the
    start of a conversation still fires when the question comes many turns in, where the same
    question's key has drifted (benchmarks/key_position.py). ``wide_radii`` (``[n]``, optional):
    a fixed radius per entry that does not grow; an entry reaches ``max(grown radius, wide
    radius)``, so a radius widened at the start of a conversation is not widened again by the
    position (which would reach unrelated prompts many turns in).
    """

    module: str
    keys: torch.Tensor
    values: torch.Tensor
    radii: torch.Tensor
    grow_from: float = 0.0
    grow_power: float = 0.0
    wide_radii: torch.Tensor | None = None
    near_radii: torch.Tensor | None = None
    guard_keys: torch.Tensor | None = None
    guard_ratio: float = 0.0

    def __post_init__(self) -> None:
        near, guards = self.near_radii, self.guard_keys
        if (self.guard_ratio > 0) != (near is not None and guards is not None) or (
                guards is not None and (guards.ndim != 2 or guards.shape[1] != self.keys.shape[1])):
            raise EditError(f"incomplete guard rule: a codebook's guard rule needs guard_ratio > 0, near_radii and guard_keys of the keys' "
                            f"width together (guard_ratio {self.guard_ratio}, near_radii {'present' if near is not None else 'missing'}, "
                            f"guard_keys {tuple(guards.shape) if guards is not None else 'missing'})")

    @property
    def guarded(self) -> bool:
        return self.guard_ratio > 0

    @property
    def grows(self) -> bool:
        return self.grow_from > 0 and self.grow_power != 0

    def growth(self) -> tuple[float, float]:
        return (self.grow_from, self.grow_power) if self.grows else (0.0, 0.0)


@dataclass
class DeltaInfo:
    """Description stored with a delta (JSON in the safetensors header)."""

    editor: str
    fingerprint: str
    config: dict[str, Any] = field(default_factory=dict)
    preference_ids: list[str] = field(default_factory=list)
    dtype: str = "float32"
    extra: dict[str, Any] = field(default_factory=dict)


WeightUpdate = LowRankUpdate | DenseUpdate


@dataclass
class Delta:
    """What one edit (or a composition of edits) changed."""

    info: DeltaInfo
    updates: list[WeightUpdate] = field(default_factory=list)
    patches: list[CodebookPatch] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """``low-rank``, ``dense``, ``codebook`` or ``mixed``."""
        kinds = {"low-rank" if isinstance(u, LowRankUpdate) else "dense" for u in self.updates}
        if self.patches:
            kinds.add("codebook")
        if not kinds:
            return "empty"
        return kinds.pop() if len(kinds) == 1 else "mixed"

    @property
    def params(self) -> list[str]:
        return sorted({u.param for u in self.updates})

    def nbytes(self) -> int:
        tensors: list[torch.Tensor] = []
        for u in self.updates:
            tensors += [u.up, u.down] if isinstance(u, LowRankUpdate) else [u.diff]
        for p in self.patches:
            tensors += [p.keys, p.values, p.radii, *(t for t in (p.wide_radii, p.near_radii, p.guard_keys) if t is not None)]
        return sum(t.numel() * t.element_size() for t in tensors)


@dataclass
class _Applied:
    delta: Delta
    originals: dict[str, torch.Tensor]
    hooks: list[Any]


def _stack(lm: Any) -> list[_Applied]:
    # The stack lives on the LoadedModel (per model, never module-level state).
    if not hasattr(lm, "_applied_stack"):
        lm._applied_stack = []
    return lm._applied_stack  # type: ignore[no-any-return]


def applied_deltas(lm: Any) -> list[Delta]:
    """Deltas currently applied to ``lm``, oldest first."""
    return [a.delta for a in _stack(lm)]


def check_compatible(lm: Any, delta: Delta) -> None:
    """Raise DeltaMismatchError when ``delta`` was made for another base model or does not fit."""
    if delta.info.fingerprint and delta.info.fingerprint != lm.fingerprint:
        raise DeltaMismatchError(
            f"delta made for base model {delta.info.fingerprint}, but this model is {lm.fingerprint} ({lm.name})",
            hint="recompute the edit on this model",
        )
    params = _param_table(lm)
    for u in delta.updates:
        if u.param not in params:
            raise DeltaMismatchError(f"delta touches {u.param!r}, which this model does not have")
        shape = tuple(params[u.param].shape)
        got = tuple(u.diff.shape) if isinstance(u, DenseUpdate) else (u.up.shape[0], u.down.shape[1])
        if got != shape:
            raise DeltaMismatchError(f"delta for {u.param!r} has shape {got}, the model's is {shape}")


def _param_table(lm: Any) -> dict[str, torch.Tensor]:
    # Looked up once per model: walking named_parameters() dominates a small delta's apply time.
    table = getattr(lm, "_param_table", None)
    if table is None:
        table = dict(lm.model.named_parameters())
        lm._param_table = table
    return table  # type: ignore[no-any-return]


def apply_delta(lm: Any, delta: Delta, *, safe: bool = False) -> None:
    """Apply ``delta`` to ``lm`` in place and push it on the model's stack.

    The touched parameters are cloned first and written back if anything fails (or, with
    ``safe=True``, if a result is non-finite), so a failed apply changes nothing.
    """
    check_compatible(lm, delta)
    params = _param_table(lm)
    originals = {u.param: params[u.param].detach().clone() for u in delta.updates}
    hooks: list[Any] = []
    try:
        with torch.no_grad():
            for u in delta.updates:
                p = params[u.param]
                if isinstance(u, LowRankUpdate):
                    p.addmm_(u.up.to(p.device, p.dtype), u.down.to(p.device, p.dtype))
                else:
                    p.add_(u.diff.to(p.device, p.dtype))
            if safe:
                for name in originals:
                    if not torch.isfinite(params[name]).all():
                        raise EditError(f"applying the delta would make {name!r} non-finite; nothing was changed")
        tracker = PositionTracker(lm.model) if any(p.grows for p in delta.patches) else None
        if tracker is not None:
            hooks.append(tracker)
        hooks += [_install_patch(lm, p, tracker) for p in delta.patches]
    except BaseException:
        with torch.no_grad():
            for name, t in originals.items():
                params[name].copy_(t)
        for h in hooks:
            h.remove()
        raise
    _stack(lm).append(_Applied(delta, originals, hooks))


def revert_delta(lm: Any, delta: Delta | None = None) -> Delta:
    """Undo the most recently applied delta (which must be ``delta`` when given); bit-exact."""
    stack = _stack(lm)
    if not stack:
        raise EditError("no delta is applied to this model")
    if delta is not None and stack[-1].delta is not delta:
        raise EditError("deltas are reverted in reverse order of application (LIFO); this one is not on top")
    top = stack.pop()
    params = _param_table(lm)
    with torch.no_grad():
        for name, t in top.originals.items():
            params[name].copy_(t)
    for h in top.hooks:
        h.remove()
    return top.delta


def revert_all(lm: Any) -> None:
    """Revert every applied delta."""
    while _stack(lm):
        revert_delta(lm)


@contextlib.contextmanager
def applied(lm: Any, delta: Delta | None, *, safe: bool = False) -> Iterator[None]:
    """Scoped form: ``with applied(lm, delta): ...`` (``None`` applies nothing)."""
    if delta is None:
        yield
        return
    apply_delta(lm, delta, safe=safe)
    try:
        yield
    finally:
        revert_delta(lm, delta)


class PositionTracker:
    """Position ids of the tokens in the model's current forward pass, for patches whose radii
    grow with the position: read from the top-level forward's arguments (``position_ids``, as
    ``generate`` passes them; else from a 2-D ``attention_mask``, else from the cache length)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.current: torch.Tensor | None = None
        self.handle = model.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, _m: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.current = forward_positions(args, kwargs)

    def remove(self) -> None:
        self.handle.remove()
        self.current = None


def forward_positions(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    """``[batch or 1, tokens]`` position ids of a causal LM forward call (None when unknowable)."""
    if kwargs.get("position_ids") is not None:
        return kwargs["position_ids"]  # type: ignore[no-any-return]
    ids = kwargs.get("input_ids", args[0] if args else None)
    embeds = kwargs.get("inputs_embeds")
    tokens = ids.shape[-1] if isinstance(ids, torch.Tensor) else embeds.shape[1] if isinstance(embeds, torch.Tensor) else None
    if tokens is None:
        return None
    mask = kwargs.get("attention_mask")
    if isinstance(mask, torch.Tensor) and mask.dim() == 2:
        return (mask.long().cumsum(-1) - 1).clamp(min=0)[:, -tokens:]
    if kwargs.get("cache_position") is not None:
        return kwargs["cache_position"].unsqueeze(0)  # type: ignore[no-any-return]
    past = kwargs.get("past_key_values")
    start = past.get_seq_length() if past is not None and hasattr(past, "get_seq_length") else 0
    return torch.arange(start, start + tokens).unsqueeze(0)


def _flat_positions(positions: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    # One position per row of x.reshape(-1, d); a forward that bypassed the model's own forward
    # (e.g. resumed at a layer) is taken to start at position 0.
    batch, tokens = (1, x.shape[0]) if x.dim() == 2 else (x.shape[0], x.shape[1])
    if positions is None or positions.shape[-1] != tokens or positions.shape[0] not in (1, batch):
        positions = torch.arange(tokens).unsqueeze(0)
    return positions.to(x.device).expand(batch, tokens).reshape(-1).float()


def codebook_output(patch: CodebookPatch, x: torch.Tensor, output: torch.Tensor,
                    positions: torch.Tensor | None = None) -> torch.Tensor:
    """``output`` with the positions whose input ``x`` lies within an entry's radius replaced
    by that entry's value (the nearest entry; ``output`` itself when nothing is hit).
    ``positions``: the tokens' position ids (``[batch or 1, tokens]``), used when the patch's
    radii grow with the position."""
    keys = patch.keys.to(x.device, torch.float32)
    flat = x.float().reshape(-1, x.shape[-1])
    dist = torch.cdist(flat, keys)  # [b*t, n]
    best, idx = dist.min(dim=-1)
    radius = patch.radii.to(x.device, torch.float32)[idx]
    if patch.grows:
        grown = (_flat_positions(positions, x) / patch.grow_from).clamp(min=1.0) ** patch.grow_power
        radius = radius * grown
    if patch.wide_radii is not None:
        radius = torch.maximum(radius, patch.wide_radii.to(x.device, torch.float32)[idx])
    if patch.guarded:
        assert patch.guard_keys is not None and patch.near_radii is not None
        to_guard = torch.cdist(flat, patch.guard_keys.to(x.device, torch.float32)).min(dim=-1).values
        near = torch.minimum(patch.near_radii.to(x.device, torch.float32)[idx], patch.guard_ratio * to_guard)
        radius = torch.maximum(radius, near)
    hit = best <= radius
    if not hit.any():
        return output
    out = output.reshape(-1, output.shape[-1]).clone()
    out[hit] = patch.values.to(out.device, out.dtype)[idx[hit]]
    return out.reshape(output.shape)


def _install_patch(lm: Any, patch: CodebookPatch, tracker: PositionTracker | None) -> Any:
    module = lm.model.get_submodule(patch.module)
    return module.register_forward_hook(
        lambda _mod, args, output: codebook_output(patch, args[0], output, tracker.current if tracker else None)
    )


def _merge_patches(q: CodebookPatch, p: CodebookPatch) -> CodebookPatch:
    """One patch holding the entries of ``q`` then ``p`` (same module, growth and guard ratio)."""
    wide = near = guards = None
    if q.wide_radii is not None or p.wide_radii is not None:
        # An entry without a wide radius reaches its (grown) radius: the same as a wide radius equal to it.
        wide = torch.cat([q.radii if q.wide_radii is None else q.wide_radii, p.radii if p.wide_radii is None else p.wide_radii])
    if q.guarded:
        assert q.near_radii is not None and p.near_radii is not None and q.guard_keys is not None and p.guard_keys is not None
        near = torch.cat([q.near_radii, p.near_radii])
        # the edits of one user share their guard questions; other guard keys only make the rule stricter
        same = q.guard_keys.shape == p.guard_keys.shape and torch.equal(q.guard_keys, p.guard_keys)
        guards = q.guard_keys if same else torch.cat([q.guard_keys, p.guard_keys])
    return CodebookPatch(p.module, torch.cat([q.keys, p.keys]), torch.cat([q.values, p.values]), torch.cat([q.radii, p.radii]),
                         p.grow_from, p.grow_power, wide, near, guards, p.guard_ratio)


def compose(deltas: Sequence[Delta], *, editor: str | None = None) -> Delta:
    """One delta equal to applying ``deltas`` together (factors concatenated, patches merged)."""
    if not deltas:
        raise EditError("compose needs at least one delta")
    prints = {d.info.fingerprint for d in deltas}
    if len(prints) > 1:
        raise DeltaMismatchError(f"cannot compose deltas made for different base models: {sorted(prints)}")
    updates: dict[tuple[str, str], WeightUpdate] = {}
    for d in deltas:
        for u in d.updates:
            key = (u.param, type(u).__name__)
            prev = updates.get(key)
            if prev is None:
                updates[key] = u
            elif isinstance(u, LowRankUpdate) and isinstance(prev, LowRankUpdate):
                updates[key] = LowRankUpdate(u.param, torch.cat([prev.up, u.up], 1), torch.cat([prev.down, u.down], 0))
            else:
                updates[key] = DenseUpdate(u.param, prev.diff + u.diff)  # type: ignore[union-attr]
    patches: dict[tuple[str, tuple[float, float], float], CodebookPatch] = {}  # merged per module, growth and guard rule
    for d in deltas:
        for p in d.patches:
            at = (p.module, p.growth(), p.guard_ratio)
            q = patches.get(at)
            patches[at] = p if q is None else _merge_patches(q, p)
    first = deltas[0].info
    systems = {d.info.extra.get("system_prompt") for d in deltas}  # the prompt the edits were keyed under, when they agree
    info = DeltaInfo(
        editor=editor or ("+".join(sorted({d.info.editor for d in deltas}))),
        fingerprint=first.fingerprint,
        config=first.config if len(deltas) == 1 else {"composed": [d.info.config for d in deltas]},
        preference_ids=[p for d in deltas for p in d.info.preference_ids],
        dtype=first.dtype,
        extra={"system_prompt": next(iter(systems))} if len(systems) == 1 and None not in systems else {},
    )
    return Delta(info=info, updates=list(updates.values()), patches=list(patches.values()))
