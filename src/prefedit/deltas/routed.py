"""Several deltas in one batched forward pass, each row seeing only its own (``Routed``).

The bench evaluates independent edits of several items in one ``generate`` call this way: row i
of a batch is computed as if ``deltas[route[i]]`` alone were applied (``-1``: none). Weight
updates of ``nn.Linear`` modules are added to the module's output for their rows
(``W x + U (D x)`` instead of ``(W + U D) x``: the same function up to float rounding);
codebook patches replace outputs exactly as an applied patch does. Deltas that touch anything
else (embeddings, norms, Conv1D layers) cannot be routed: ``routable`` says so and callers
apply them one at a time instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from prefedit.deltas.delta import CodebookPatch, Delta, LowRankUpdate, PositionTracker, check_compatible, codebook_output


def _linear_of(lm: Any, param: str) -> nn.Linear | None:
    module_name, _, leaf = param.rpartition(".")
    if leaf != "weight":
        return None
    try:
        module = lm.model.get_submodule(module_name)
    except AttributeError:
        return None
    return module if type(module) is nn.Linear else None


def routable(lm: Any, delta: Delta | None) -> bool:
    """True when ``delta`` (or ``None``) can be applied per row by ``Routed``."""
    return delta is None or all(_linear_of(lm, u.param) is not None for u in delta.updates)


class Routed:
    """``with Routed(lm, deltas) as r: r.rows(route); ...forward...``: per-row deltas.

    ``rows(route)`` sets the delta index of each row of the next forward passes (one batch).
    """

    def __init__(self, lm: Any, deltas: Sequence[Delta | None]) -> None:
        for d in deltas:
            if d is not None:
                check_compatible(lm, d)
                if not routable(lm, d):
                    raise ValueError(f"delta of {d.info.editor} touches parameters outside nn.Linear weights; apply it instead")
        self.lm, self.deltas = lm, list(deltas)
        self.route: torch.Tensor | None = None
        self.weights: dict[str, list[tuple[int, Any]]] = {}
        self.patches: dict[str, list[tuple[int, CodebookPatch]]] = {}
        for i, d in enumerate(self.deltas):
            for u in d.updates if d is not None else []:
                self.weights.setdefault(u.param.rpartition(".")[0], []).append((i, u))
            for p in d.patches if d is not None else []:
                self.patches.setdefault(p.module, []).append((i, p))
        self.handles: list[Any] = []
        self.tracker: PositionTracker | None = None

    def rows(self, route: Sequence[int]) -> None:
        self.route = torch.tensor(list(route), dtype=torch.long)

    def touched_modules(self) -> list[str]:
        return sorted(set(self.weights) | set(self.patches))

    def __enter__(self) -> Routed:
        if any(p.grows for entries in self.patches.values() for _, p in entries):
            self.tracker = PositionTracker(self.lm.model)
            self.handles.append(self.tracker)
        for name in self.touched_modules():
            module = self.lm.model.get_submodule(name)
            self.handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []
        self.route = None
        self.tracker = None

    def _hook(self, name: str) -> Any:
        weights, patches = self.weights.get(name, []), self.patches.get(name, [])

        def hook(_m: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
            if self.route is None:
                raise RuntimeError("Routed.rows(route) must be set before a forward pass")
            x, route = args[0], self.route.to(output.device)
            if route.shape[0] != output.shape[0]:
                raise RuntimeError(f"route has {route.shape[0]} rows, the batch {output.shape[0]}")
            out = output
            for i, u in weights:
                sel = route == i
                if not bool(sel.any()):
                    continue
                xs = x[sel]
                if isinstance(u, LowRankUpdate):
                    add = (xs @ u.down.to(xs.device, xs.dtype).t()) @ u.up.to(xs.device, xs.dtype).t()
                else:
                    add = xs @ u.diff.to(xs.device, xs.dtype).t()
                out = out.clone() if out is output else out
                out[sel] = out[sel] + add
            positions = self.tracker.current if self.tracker is not None else None
            for i, p in patches:
                sel = route == i
                if bool(sel.any()):
                    out = out.clone() if out is output else out
                    rows = positions[sel] if positions is not None and positions.shape[0] == sel.shape[0] else positions
                    out[sel] = codebook_output(p, x[sel], out[sel], rows)
            return out

        return hook
