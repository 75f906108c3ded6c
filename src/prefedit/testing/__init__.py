"""Tiny randomly initialised models and a byte-level tokenizer, for tests and examples (no download)."""

from prefedit.testing.tiny import TINY_FAMILIES, tiny_model, tiny_tokenizer

__all__ = ["TINY_FAMILIES", "tiny_model", "tiny_tokenizer"]
