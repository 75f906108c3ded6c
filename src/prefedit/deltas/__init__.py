"""Deltas: what an edit changed; apply, bit-exact revert, compose, save/load."""

from prefedit.deltas.delta import (
    CodebookPatch,
    Delta,
    DeltaInfo,
    DenseUpdate,
    LowRankUpdate,
    applied,
    applied_deltas,
    apply_delta,
    check_compatible,
    compose,
    revert_all,
    revert_delta,
)
from prefedit.deltas.io import load_delta, read_description, save_delta
from prefedit.deltas.peft_export import ExportReport, export_peft, lora_factors

__all__ = [
    "CodebookPatch",
    "Delta",
    "DeltaInfo",
    "DenseUpdate",
    "ExportReport",
    "LowRankUpdate",
    "applied",
    "applied_deltas",
    "apply_delta",
    "check_compatible",
    "compose",
    "export_peft",
    "load_delta",
    "lora_factors",
    "read_description",
    "revert_all",
    "revert_delta",
    "save_delta",
]
