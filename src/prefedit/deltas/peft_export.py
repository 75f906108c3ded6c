"""Export a weight Delta as a PEFT LoRA adapter (``adapter_config.json`` + ``adapter_model.safetensors``).

Low-rank updates are written exactly: ``lora_B = up`` and ``lora_A = down`` (transposed for
GPT-2's Conv1D, with ``fan_in_fan_out``), ``lora_alpha = r`` so peft's scaling is 1, and modules
of another rank get ``rank_pattern`` / ``alpha_pattern`` entries. Dense updates become a
truncated SVD whose relative error is reported. A codebook patch (GRACE) changes activations,
not weights, and cannot be exported. ``peft.PeftModel.from_pretrained(base, out_dir)`` then
gives the same logits as ``apply_delta(lm, delta)``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from prefedit import __version__
from prefedit.deltas.delta import Delta, DenseUpdate, LowRankUpdate, check_compatible
from prefedit.errors import ExportError

ADAPTER_WEIGHTS = "adapter_model.safetensors"


@dataclass
class ExportReport:
    """What an export wrote and how exact it is (``relative_errors`` are ||ΔW - BA||_F / ||ΔW||_F)."""

    out_dir: str
    base_model_name_or_path: str
    modules: list[str]
    ranks: dict[str, int]
    relative_errors: dict[str, float] = field(default_factory=dict)
    target_modules: list[str] | str = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.relative_errors

    @property
    def max_relative_error(self) -> float:
        return max(self.relative_errors.values(), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exact": self.exact, "max_relative_error": self.max_relative_error}


def _merged(delta: Delta) -> dict[str, list[LowRankUpdate | DenseUpdate]]:
    by_param: dict[str, list[LowRankUpdate | DenseUpdate]] = {}
    for u in delta.updates:
        by_param.setdefault(u.param, []).append(u)
    return by_param


def _check_module(lm: Any, param: str) -> str:
    from transformers.pytorch_utils import Conv1D

    path, _, leaf = param.rpartition(".")
    if leaf != "weight":
        raise ExportError(f"cannot export an update of {param!r}: LoRA adapts weights only")
    module = lm.model.get_submodule(path)
    if not isinstance(module, torch.nn.Linear | Conv1D):
        raise ExportError(f"cannot export an update of {param!r}: {type(module).__name__} is not a Linear or Conv1D layer")
    return path


def _svd_factors(diff: torch.Tensor, rank: int | None, tol: float) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(B [out, r], A [r, in], relative error) of the best rank-r approximation of ``diff`` [out, in]."""
    u, s, vh = torch.linalg.svd(diff.double(), full_matrices=False)
    total = float(s.square().sum())
    tail = torch.cat([s.square().flip(0).cumsum(0).flip(0)[1:], s.new_zeros(1)])  # error² if keeping i+1
    if rank is None:
        ok = (tail <= (tol**2) * total).nonzero()
        rank = int(ok[0]) + 1 if len(ok) else len(s)
    rank = max(1, min(rank, len(s)))
    err = (float(tail[rank - 1]) / total) ** 0.5 if total > 0 else 0.0
    return (u[:, :rank] * s[:rank]).float(), vh[:rank].float(), err


def lora_factors(
    lm: Any, delta: Delta, *, dense_rank: int | None = None, dense_tol: float = 1e-3
) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], dict[str, float]]:
    """{module path: (B ``[out, r]``, A ``[r, in]``)} in peft's ``[out, in]`` convention, and SVD errors."""
    conv1d = lm.arch.spec.conv1d
    out: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    errors: dict[str, float] = {}
    for param, updates in _merged(delta).items():
        path = _check_module(lm, param)
        if all(isinstance(u, LowRankUpdate) for u in updates):
            up = torch.cat([u.up.float() for u in updates], 1)  # type: ignore[union-attr]
            down = torch.cat([u.down.float() for u in updates], 0)  # type: ignore[union-attr]
            # param += up @ down; Conv1D params are [in, out], so B A = (up down)ᵀ = downᵀ upᵀ
            out[path] = (down.T.contiguous(), up.T.contiguous()) if conv1d else (up, down)
            continue
        diff = sum(u.dense() for u in updates)
        b, a, err = _svd_factors(diff.T if conv1d else diff, dense_rank, dense_tol)  # type: ignore[union-attr]
        out[path], errors[path] = (b.contiguous(), a.contiguous()), err
    return out, errors


def _target_spec(lm: Any, modules: list[str]) -> dict[str, Any]:
    """The most compact target_modules (leaf names + layers_to_transform, else paths) matching exactly ``modules``."""
    from peft import LoraConfig
    from peft.tuners.tuners_utils import check_target_module_exists

    layers = sorted({int(m.split(".")[len(lm.arch.layers_path.split("."))]) for m in modules})
    leaves = sorted({m.rsplit(".", 1)[1] for m in modules})
    candidates = [
        {"target_modules": leaves, "layers_to_transform": layers},
        {"target_modules": sorted(modules)},
        {"target_modules": "|".join(sorted(m.replace(".", r"\.") for m in modules))},
    ]
    names = [n for n, _ in lm.model.named_modules() if n]
    for spec in candidates:
        cfg = LoraConfig(**spec)  # type: ignore[arg-type]
        if {n for n in names if check_target_module_exists(cfg, n)} == set(modules):
            return spec
    raise ExportError(f"no target_modules specification selects exactly {modules}")


def export_peft(
    lm: Any,
    delta: Delta,
    out_dir: str | Path,
    base_model_name_or_path: str | None = None,
    *,
    dense_rank: int | None = None,
    dense_tol: float = 1e-3,
) -> ExportReport:
    """Write ``delta`` as a PEFT LoRA adapter in ``out_dir``.

    Args:
        lm: the base model the delta was made for (module types and layout come from it).
        delta: low-rank and/or dense weight updates.
        out_dir: folder for ``adapter_config.json`` and ``adapter_model.safetensors``.
        base_model_name_or_path: recorded in the config (default: ``lm.name``).
        dense_rank: rank of dense updates' truncated SVD (default: the smallest rank whose
            relative Frobenius error is at most ``dense_tol``).
        dense_tol: target relative error when ``dense_rank`` is None.

    Returns:
        An ExportReport: modules, ranks and, for dense updates, the SVD's relative errors.

    Raises:
        ExportError: the delta holds a codebook patch (GRACE), is empty, or touches a
            parameter that is not the weight of a Linear/Conv1D layer.
        DeltaMismatchError: the delta was made for another base model.
    """
    if delta.patches:
        raise ExportError(
            f"a {delta.info.editor!r} delta holds a codebook patch (GRACE): it replaces activations near stored keys "
            "and is not a weight change, so it has no LoRA form",
            hint="serve GRACE deltas with prefedit itself (apply_delta), or edit with a weight editor (rome, memit, alphaedit, lora)",
        )
    if not delta.updates:
        raise ExportError("the delta holds no weight updates; there is nothing to export")
    check_compatible(lm, delta)
    factors, errors = lora_factors(lm, delta, dense_rank=dense_rank, dense_tol=dense_tol)
    return _write(lm, delta, factors, errors, Path(out_dir), base_model_name_or_path or lm.name)


def _write(lm: Any, delta: Delta, factors: dict[str, tuple[torch.Tensor, torch.Tensor]], errors: dict[str, float], out: Path, base: str) -> ExportReport:
    from peft import LoraConfig

    ranks = {m: b.shape[1] for m, (b, _a) in factors.items()}
    r = Counter(ranks.values()).most_common(1)[0][0]
    others = {m: k for m, k in ranks.items() if k != r}
    config = LoraConfig(
        r=r,
        lora_alpha=r,  # scaling = alpha / r = 1: the factors already hold the whole update
        rank_pattern=others,
        alpha_pattern=dict(others),
        lora_dropout=0.0,
        bias="none",
        fan_in_fan_out=lm.arch.spec.conv1d,
        task_type="CAUSAL_LM",
        base_model_name_or_path=base,
        inference_mode=True,
        **_target_spec(lm, sorted(factors)),
    )
    out.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(str(out))
    tensors = {}
    for m, (b, a) in factors.items():
        tensors[f"base_model.model.{m}.lora_A.weight"] = a.detach().float().cpu().contiguous()
        tensors[f"base_model.model.{m}.lora_B.weight"] = b.detach().float().cpu().contiguous()
    targets = config.target_modules if isinstance(config.target_modules, str) else sorted(config.target_modules or [])
    report = ExportReport(str(out), base, sorted(factors), ranks, errors, targets)
    meta = {"editor": delta.info.editor, "fingerprint": delta.info.fingerprint, "preference_ids": delta.info.preference_ids}
    header = {"format": "pt", "prefedit": json.dumps({**meta, "prefedit_version": __version__, **report.to_dict()}, sort_keys=True, default=list)}
    save_file(tensors, str(out / ADAPTER_WEIGHTS), metadata=header)
    return report
