"""Architecture adapters: where each layer's MLP, attention and block live, per model family.

Editors ask for abstract components by layer (``mlp_in``, ``mlp_out``, ``attn_out``, ``block_out``,
``mlp``) and this table resolves them; dispatch is on ``config.model_type`` exactly, never on
substrings of model names.

* ``mlp_out``: the MLP's output projection; its *input* is the key ROME/MEMIT write to and its
  weight is the matrix they edit.
* ``mlp_in``: the MLP's input (up) projection.
* ``mlp``: the whole MLP module (its output is the value ROME optimises).
* ``attn_out``: the attention output projection.
* ``block_out``: the decoder layer (its output is the residual stream after the layer).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from prefedit.errors import UnsupportedArchitectureError

COMPONENTS = ("mlp_in", "mlp_out", "mlp", "attn_out", "block_out")


@dataclass(frozen=True, kw_only=True)
class ArchSpec:
    """Module paths of one family, relative to a decoder layer."""

    family: str
    layers: tuple[str, ...]  # candidate paths of the layer list, first that exists wins
    mlp: str
    mlp_in: str
    mlp_out: str
    attn_out: str
    conv1d: bool = False  # GPT-2 style Conv1D: weight is [in, out] instead of [out, in]
    n_layers_attr: str = "num_hidden_layers"


_LLAMA_LIKE = dict(
    layers=("model.layers", "model.language_model.layers"),
    mlp="mlp",
    mlp_in="mlp.up_proj",
    mlp_out="mlp.down_proj",
    attn_out="self_attn.o_proj",
)

ARCHS: dict[str, ArchSpec] = {
    **{
        fam: ArchSpec(family=fam, **_LLAMA_LIKE)  # type: ignore[arg-type]
        for fam in ("llama", "mistral", "qwen2", "qwen3", "olmo2", "gemma", "gemma2", "gemma3", "gemma3_text")
    },
    "gpt2": ArchSpec(
        family="gpt2",
        layers=("transformer.h",),
        mlp="mlp",
        mlp_in="mlp.c_fc",
        mlp_out="mlp.c_proj",
        attn_out="attn.c_proj",
        conv1d=True,
        n_layers_attr="n_layer",
    ),
    "gptj": ArchSpec(
        family="gptj",
        layers=("transformer.h",),
        mlp="mlp",
        mlp_in="mlp.fc_in",
        mlp_out="mlp.fc_out",
        attn_out="attn.out_proj",
        n_layers_attr="n_layer",
    ),
}


class _Passthrough(nn.Module):
    """Stands in for a skipped decoder layer (decoder layers return the hidden states)."""

    def forward(self, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return hidden_states


def _with_hidden(args: tuple[Any, ...], kwargs: dict[str, Any], h: torch.Tensor) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if "hidden_states" in kwargs:
        return args, {**kwargs, "hidden_states": h}
    return (h, *args[1:]), kwargs


class ArchAdapter:
    """Resolves abstract components of one loaded model to its modules and parameter names."""

    def __init__(self, model: nn.Module) -> None:
        model_type = getattr(model.config, "model_type", None)
        if model_type not in ARCHS:
            raise UnsupportedArchitectureError(
                f"no architecture adapter for model_type {model_type!r}; supported: {', '.join(sorted(ARCHS))}",
                hint="add an ArchSpec for this family to prefedit.models.arch.ARCHS",
            )
        self.spec = ARCHS[model_type]
        self.model = model
        self.layers_path = self._find_layers(model)

    def _find_layers(self, model: nn.Module) -> str:
        for path in self.spec.layers:
            try:
                model.get_submodule(path)
                return path
            except AttributeError:
                continue
        raise UnsupportedArchitectureError(
            f"{self.spec.family}: none of the layer paths {self.spec.layers} exists in this model"
        )

    @property
    def family(self) -> str:
        return self.spec.family

    @property
    def n_layers(self) -> int:
        return len(self.model.get_submodule(self.layers_path))  # type: ignore[arg-type]

    def resolve_layer(self, layer: int) -> int:
        """Accept negative indices; raise on out of range."""
        n = self.n_layers
        idx = layer + n if layer < 0 else layer
        if not 0 <= idx < n:
            raise UnsupportedArchitectureError(f"layer {layer} out of range for a {n}-layer model")
        return idx

    def path(self, component: str, layer: int) -> str:
        """Module path of ``component`` at ``layer`` (e.g. ``model.layers.5.mlp.down_proj``)."""
        if component not in COMPONENTS:
            raise ValueError(f"unknown component {component!r}; valid: {COMPONENTS}")
        base = f"{self.layers_path}.{self.resolve_layer(layer)}"
        if component == "block_out":
            return base
        return f"{base}.{getattr(self.spec, component)}"

    def module(self, component: str, layer: int) -> nn.Module:
        return self.model.get_submodule(self.path(component, layer))

    def weight_name(self, component: str, layer: int) -> str:
        """Parameter name of the component's weight (for deltas)."""
        return f"{self.path(component, layer)}.weight"

    def weight(self, component: str, layer: int) -> torch.Tensor:
        return self.model.get_parameter(self.weight_name(component, layer))

    def weight_out_in(self, component: str, layer: int) -> torch.Tensor:
        """The weight viewed as ``[out_features, in_features]`` whatever the layout."""
        w = self.weight(component, layer)
        return w.t() if self.spec.conv1d else w

    def block(self, layer: int) -> nn.Module:
        """The decoder layer ``layer`` itself."""
        return self.model.get_submodule(f"{self.layers_path}.{self.resolve_layer(layer)}")

    @contextlib.contextmanager
    def resumed_at(self, layer: int, hidden: torch.Tensor) -> Iterator[None]:
        """While open, a forward skips the layers below ``layer`` and starts ``layer`` from
        ``hidden`` (the states entering it, ``[B, T, d]`` for the tokens fed). An edit at layer L
        cannot change what enters L, so editors and the locality check reuse those states
        instead of recomputing them. Works for every family: the embedding still runs (and is
        discarded), the skipped layers pass their input through."""
        layers = self.model.get_submodule(self.layers_path)
        start = self.resolve_layer(layer)
        saved = [layers[i] for i in range(start)]  # type: ignore[index]
        for i in range(start):
            layers[i] = _Passthrough()  # type: ignore[index]
        handle = layers[start].register_forward_pre_hook(lambda _m, a, k: _with_hidden(a, k, hidden), with_kwargs=True)  # type: ignore[index]
        try:
            yield
        finally:
            handle.remove()
            for i, module in enumerate(saved):
                layers[i] = module  # type: ignore[index]

    def relative_layer(self, fraction: float) -> int:
        """Layer index at ``fraction`` of the depth (0 = first, 1 = last)."""
        return min(self.n_layers - 1, max(0, round(fraction * (self.n_layers - 1))))
