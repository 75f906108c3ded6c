"""MEMIT: mass-editing memory over several MLP layers."""

from prefedit.editing.memit.config import MemitConfig
from prefedit.editing.memit.editor import MemitEditor

__all__ = ["MemitConfig", "MemitEditor"]
