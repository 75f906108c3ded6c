"""Base models: loading, architecture adapters, chat formatting, fingerprints and generation."""

from prefedit.models.arch import ArchAdapter, ArchSpec
from prefedit.models.chat import DEFAULT_SYSTEM_PROMPT, chat_prompt, format_chat
from prefedit.models.fingerprint import fingerprint_model
from prefedit.models.generate import generate
from prefedit.models.load import DEFAULT_MODEL, MODELS, LoadedModel, load_model, wrap_model

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_SYSTEM_PROMPT",
    "MODELS",
    "ArchAdapter",
    "ArchSpec",
    "LoadedModel",
    "chat_prompt",
    "fingerprint_model",
    "format_chat",
    "generate",
    "load_model",
    "wrap_model",
]
