"""ROME: rank-one model editing."""

from prefedit.editing.rome.config import RomeConfig
from prefedit.editing.rome.editor import RomeEditor

__all__ = ["RomeConfig", "RomeEditor"]
