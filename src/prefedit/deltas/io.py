"""Saving and loading a Delta as one safetensors file, its description JSON in the header."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from prefedit import __version__
from prefedit.deltas.delta import CodebookPatch, Delta, DeltaInfo, DenseUpdate, LowRankUpdate
from prefedit.errors import DataError, EditError

FORMAT = "prefedit.delta/1"
STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def delta_to_tensors(delta: Delta, storage: str = "float32") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and header metadata describing ``delta``."""
    dt = STORAGE_DTYPES[storage]
    tensors: dict[str, torch.Tensor] = {}
    entries = []
    for i, u in enumerate(delta.updates):
        if isinstance(u, LowRankUpdate):
            tensors[f"u{i}.up"], tensors[f"u{i}.down"] = u.up.to(dt), u.down.to(dt)
            entries.append({"kind": "low-rank", "param": u.param})
        else:
            tensors[f"u{i}.diff"] = u.diff.to(dt)
            entries.append({"kind": "dense", "param": u.param})
    for i, p in enumerate(delta.patches):
        tensors[f"p{i}.keys"], tensors[f"p{i}.values"] = p.keys.to(dt), p.values.to(dt)
        tensors[f"p{i}.radii"] = p.radii.float()
        if p.wide_radii is not None:
            tensors[f"p{i}.wide_radii"] = p.wide_radii.float()
        if p.guarded:
            assert p.near_radii is not None and p.guard_keys is not None
            # guard keys stay in half precision whatever the storage dtype (CodebookPatch, compute_codebook)
            tensors[f"p{i}.near_radii"], tensors[f"p{i}.guard_keys"] = p.near_radii.float(), p.guard_keys.to(torch.float16)
        entries.append({"kind": "codebook", "module": p.module, **({"grow_from": p.grow_from, "grow_power": p.grow_power} if p.grows else {}),
                        **({"guard_ratio": p.guard_ratio} if p.guarded else {})})
    description = {
        "format": FORMAT,
        "prefedit_version": __version__,
        "kind": delta.kind,
        "storage_dtype": storage,
        "info": asdict(delta.info),
        "entries": entries,
    }
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    return tensors, {"prefedit": json.dumps(description, sort_keys=True)}


def save_delta(delta: Delta, path: str | Path, *, storage: str = "float32") -> Path:
    """Write ``delta`` atomically to ``path`` (a ``.safetensors`` file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors, meta = delta_to_tensors(delta, storage)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".safetensors")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=meta)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_description(path: str | Path) -> dict:
    """The JSON description in a delta file's header."""
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if "prefedit" not in meta:
        raise DataError(f"{path} is not a prefedit delta (no 'prefedit' header metadata)")
    return json.loads(meta["prefedit"])  # type: ignore[no-any-return]


def _check_entries(path: str | Path, i: int, keys: torch.Tensor, per_entry: dict[str, torch.Tensor | None]) -> None:
    """Every per-entry tensor of codebook ``i`` has one row per key (a hand-edited file fails here, not mid-generation)."""
    for name, t in per_entry.items():
        if t is not None and t.shape[0] != keys.shape[0]:
            raise DataError(f"{path}: codebook p{i} has {keys.shape[0]} keys but {t.shape[0]} {name}",
                            hint="the file was changed after it was saved; recompute the edit")


def load_delta(path: str | Path) -> Delta:
    """Read a delta written by :func:`save_delta` (tensors come back as float32)."""
    desc = read_description(path)
    if desc.get("format") != FORMAT:
        raise DataError(f"{path}: unsupported delta format {desc.get('format')!r}, expected {FORMAT!r}")
    updates: list[LowRankUpdate | DenseUpdate] = []
    patches: list[CodebookPatch] = []
    with safe_open(str(path), framework="pt") as f:
        names = set(f.keys())
        ui = pi = 0
        for e in desc["entries"]:
            if e["kind"] == "low-rank":
                updates.append(LowRankUpdate(e["param"], f.get_tensor(f"u{ui}.up").float(), f.get_tensor(f"u{ui}.down").float()))
                ui += 1
            elif e["kind"] == "dense":
                updates.append(DenseUpdate(e["param"], f.get_tensor(f"u{ui}.diff").float()))
                ui += 1
            else:
                keys, values, radii = f.get_tensor(f"p{pi}.keys").float(), f.get_tensor(f"p{pi}.values").float(), f.get_tensor(f"p{pi}.radii")
                wide, near, guards = (f.get_tensor(f"p{pi}.{n}") if f"p{pi}.{n}" in names else None for n in ("wide_radii", "near_radii", "guard_keys"))
                _check_entries(path, pi, keys, {"values": values, "radii": radii, "wide_radii": wide, "near_radii": near})
                try:  # CodebookPatch refuses an incomplete guard rule; name the file and the codebook
                    patches.append(CodebookPatch(e["module"], keys, values, radii, float(e.get("grow_from", 0.0)), float(e.get("grow_power", 0.0)),
                                                 wide, near, guards, float(e.get("guard_ratio", 0.0))))
                except EditError as exc:
                    raise DataError(f"{path}: codebook p{pi}: {exc}", hint="the file was changed after it was saved; recompute the edit") from exc
                pi += 1
    return Delta(info=DeltaInfo(**desc["info"]), updates=updates, patches=patches)
