"""GRACE: a codebook adaptor at one layer (a codebook patch, not a weight change)."""

from prefedit.editing.grace.config import GraceConfig
from prefedit.editing.grace.editor import GraceEditor

__all__ = ["GraceConfig", "GraceEditor"]
