"""AlphaEdit: null-space constrained editing for many sequential edits."""

from prefedit.editing.alphaedit.compute_update import AlphaEditState
from prefedit.editing.alphaedit.config import AlphaEditConfig
from prefedit.editing.alphaedit.editor import AlphaEditEditor

__all__ = ["AlphaEditConfig", "AlphaEditEditor", "AlphaEditState"]
