"""Editing: the edit plan, the Editor protocol and registry, shared statistics, and the editors.

Importing this package registers the built-in editors.
"""

from prefedit.editing.base import EDITORS, EditMode, EditPlan, EditRequest, Editor, get_editor, register_editor
from prefedit.editing.rome import RomeConfig, RomeEditor

__all__ = [
    "EDITORS",
    "EditMode",
    "EditPlan",
    "EditRequest",
    "Editor",
    "RomeConfig",
    "RomeEditor",
    "get_editor",
    "register_editor",
]
