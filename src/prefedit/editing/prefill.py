"""One forward of right-padded rows that runs a common token prefix once per group of rows.

The requests of a chat plan share their templated head (``<|im_start|>system ... user\\n``,
14 of about 33 tokens on SmolLM2), so a plain batched forward spends much of its work
recomputing the same prefix for every row, plus the padding of the longest row. ``Prefill``
groups rows by their common token prefix, runs each group's prefix once (one row), then the
group's remaining tokens against that cache, and the rows that share nothing in one plain
forward trimmed to their own longest row. Causal attention makes each row's activations the
same as in the full forward (up to float rounding) at its real tokens; what padding slots hold
is unspecified (zero, or a masked pad token's activations), as in any padded forward.

Everything a caller reads per forward (hook captures, last hidden states, the cache) comes out
in several pieces, in call order; ``stitch`` puts them back at their rows' original positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from prefedit.models.generate import common_prefix

MIN_SHARED = 8  # tokens a prefix must have to be worth its own forward


@dataclass(frozen=True)
class _Piece:
    rows: torch.Tensor  # [G] original row indices
    start: int  # first original position this forward covers
    stop: int  # one past the last
    shared: bool  # one row standing for all of ``rows`` (the prefix forward)


class Prefill:
    """Plan of the forwards for ``input_ids``/``mask`` (right-padded ``[B, T]``)."""

    def __init__(self, input_ids: torch.Tensor, mask: torch.Tensor, min_shared: int | None = None) -> None:
        min_shared = MIN_SHARED if min_shared is None else min_shared
        self.input_ids, self.mask = input_ids, mask
        lengths = [int(n) for n in mask.sum(1)]
        seqs = [input_ids[i, : lengths[i]].tolist() for i in range(input_ids.shape[0])]
        order = sorted(range(len(seqs)), key=lambda i: seqs[i])  # rows sharing a prefix become neighbours
        groups: list[tuple[list[int], int]] = []  # (rows, shared prefix length)
        for i in order:
            if groups:
                rows, shared = groups[-1]
                # Keep at least one token of every row for the group's second forward.
                common = min(shared, common_prefix(seqs[rows[0]], seqs[i]), lengths[i] - 1)
                if common >= min_shared:
                    groups[-1] = (rows + [i], common)
                    continue
            groups.append(([i], lengths[i] - 1))
        dev = input_ids.device
        self.pieces: list[list[_Piece]] = []  # forwards, each one or two pieces (prefix, rest)
        alone: list[int] = []
        for rows, shared in groups:
            if len(rows) < 2:
                alone += rows
                continue
            idx = torch.tensor(sorted(rows), device=dev)
            stop = max(lengths[i] for i in rows)
            self.pieces.append([_Piece(idx, 0, shared, True), _Piece(idx, shared, stop, False)])
        if alone:
            self.pieces.append([_Piece(torch.tensor(sorted(alone), device=dev), 0, max(lengths[i] for i in alone), False)])

    @property
    def forwards(self) -> int:
        return sum(len(p) for p in self.pieces)

    def run(self, model: nn.Module, **kwargs: Any) -> tuple[list[torch.Tensor], list[list[tuple[torch.Tensor, torch.Tensor]]]]:
        """Run the forwards of ``model`` (a base model returning ``last_hidden_state`` and a
        cache) in plan order: the last hidden state of each and its per-layer keys/values."""
        hidden: list[torch.Tensor] = []
        caches: list[list[tuple[torch.Tensor, torch.Tensor]]] = []
        for group in self.pieces:
            past: list[tuple[torch.Tensor, torch.Tensor]] = []
            for piece in group:
                if piece.shared:
                    ids = self.input_ids[piece.rows[:1], piece.start : piece.stop]
                    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True, **kwargs)
                else:
                    ids = self.input_ids[piece.rows, piece.start : piece.stop]
                    out = model(input_ids=ids, use_cache=True, **self._rest_kwargs(piece, past, model), **kwargs)
                layers = [(layer.keys[:, :, -ids.shape[1] :], layer.values[:, :, -ids.shape[1] :]) for layer in out.past_key_values.layers]
                hidden.append(out.last_hidden_state)
                caches.append(layers)
                past = layers if piece.shared else []
        return hidden, caches

    @torch.no_grad()
    def inputs_of(self, model: nn.Module, module: nn.Module) -> list[torch.Tensor]:
        """``module``'s first input in each forward of the plan (plan order, for ``stitch``),
        every forward stopping there: only the layers up to ``module`` run, and a shared
        prefix's cache holds just those layers, all the rest of its group needs."""
        from transformers import DynamicCache

        from prefedit.editing.hooks import StopForward, capture

        seen: list[torch.Tensor] = []
        for group in self.pieces:
            cache: Any = None
            for piece in group:
                if piece.shared:
                    ids = self.input_ids[piece.rows[:1], piece.start : piece.stop]
                    cache = DynamicCache(config=getattr(model, "config", None))
                    kwargs: dict[str, Any] = {"attention_mask": torch.ones_like(ids), "past_key_values": cache}
                else:
                    ids = self.input_ids[piece.rows, piece.start : piece.stop]
                    filled = [(layer.keys, layer.values) for layer in cache.layers if getattr(layer, "keys", None) is not None and layer.keys.numel()] if cache is not None else []
                    kwargs = self._rest_kwargs(piece, filled, model)
                    cache = None
                with capture(module, stop=True) as got:
                    try:
                        model(input_ids=ids, use_cache=piece.shared or "past_key_values" in kwargs, **kwargs)
                    except StopForward:
                        pass
                seen.append(got[0])
        return seen

    def _rest_kwargs(self, piece: _Piece, past: Sequence[tuple[torch.Tensor, torch.Tensor]], model: nn.Module) -> dict[str, Any]:
        """Forward arguments of a non-shared piece: its rows' mask up to its end and, after a
        shared prefix (``past``: its per-layer keys/values, one row), that cache for every row
        with the positions following it."""
        from transformers import DynamicCache

        kwargs: dict[str, Any] = {"attention_mask": self.mask[piece.rows, : piece.stop]}
        if past:
            n = len(piece.rows)
            kwargs["past_key_values"] = DynamicCache(
                ddp_cache_data=[(k.expand(n, -1, -1, -1).contiguous(), v.expand(n, -1, -1, -1).contiguous()) for k, v in past],
                config=getattr(model, "config", None))
            kwargs["position_ids"] = torch.arange(piece.start, piece.stop, device=self.input_ids.device).unsqueeze(0).expand(n, -1)
        return kwargs

    def stitch(self, parts: Sequence[torch.Tensor], dim: int = 1) -> torch.Tensor:
        """One tensor per forward (plan order, rows first, positions along ``dim``) put back as
        the full batch's ``[B, ..., T, ...]`` tensor; positions no forward covered are zero."""
        flat = [p for group in self.pieces for p in group]
        if len(parts) != len(flat):
            raise ValueError(f"{len(parts)} tensors for {len(flat)} forwards")
        shape = list(parts[0].shape)
        shape[0], shape[dim] = self.input_ids.shape[0], self.input_ids.shape[1]
        full = parts[0].new_zeros(shape)
        for piece, part in zip(flat, parts):
            if piece.shared:
                part = part.expand(len(piece.rows), *part.shape[1:])
            view = full.narrow(dim, piece.start, piece.stop - piece.start)
            view[piece.rows] = part
        return full
