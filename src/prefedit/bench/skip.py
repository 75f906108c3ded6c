"""Teacher-forced scoring that resumes at the first layer the applied deltas change.

An edit of layer L leaves every hidden state entering layer L as it was, so the states of a
probe sequence at layer L are computed once (on any model whose layers below L are the base
ones) and reused: after the edit only layers L.. run. For a single-layer edit at two thirds of
the depth the locality check then costs about a third of a full forward pass. Deltas touching
anything outside the decoder layers (embeddings, final norm, head) disable the shortcut.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from prefedit.deltas import applied_deltas
from prefedit.editing.hooks import StopForward


def first_changed_layer(lm: Any, routed: Sequence[Any] = ()) -> int:
    """The lowest decoder layer any applied (or ``routed``) delta changes (0 when one changes
    anything else)."""
    n = lm.arch.n_layers
    prefix = lm.arch.layers_path + "."
    first = n
    for delta in [*applied_deltas(lm), *(d for d in routed if d is not None)]:
        for name in [u.param for u in delta.updates] + [p.module for p in delta.patches]:
            if not name.startswith(prefix):
                return 0
            first = min(first, int(name[len(prefix) :].split(".")[0]))
    return min(first, n - 1)


def _hidden_arg(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    return kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]


class LayerStates:
    """Hidden states entering a layer, per token sequence (right-padded batches)."""

    def __init__(self, lm: Any) -> None:
        self.lm = lm
        self.store: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}

    def layers(self) -> nn.ModuleList:
        return self.lm.model.get_submodule(self.lm.arch.layers_path)  # type: ignore[no-any-return]

    def batch(self, layer: int, seqs: Sequence[list[int]], ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[B, T, d]`` states entering ``layer`` for the right-padded batch ``ids``."""
        missing = [i for i, s in enumerate(seqs) if (layer, tuple(s)) not in self.store]
        if missing:
            self._capture(layer, [seqs[i] for i in missing], ids[missing], mask[missing])
        rows = [self.store[(layer, tuple(s))] for s in seqs]
        out = rows[0].new_zeros((len(rows), ids.shape[1], rows[0].shape[-1]))
        for i, r in enumerate(rows):
            out[i, : r.shape[0]] = r
        return out

    def _capture(self, layer: int, seqs: Sequence[list[int]], ids: torch.Tensor, mask: torch.Tensor) -> None:
        seen: list[torch.Tensor] = []

        def grab(_m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            seen.append(_hidden_arg(args, kwargs).detach())
            raise StopForward  # nothing after layer L is needed

        handle = self.layers()[layer].register_forward_pre_hook(grab, with_kwargs=True)
        try:
            self.lm.model(input_ids=ids, attention_mask=mask, use_cache=False)
        except StopForward:
            pass
        finally:
            handle.remove()
        for i, s in enumerate(seqs):
            self.store[(layer, tuple(s))] = seen[0][i, : len(s)].clone()
