"""Editing: the edit plan, the Editor protocol and registry, shared statistics, and the editors.

Importing this package registers the built-in editors: ``rome``, ``memit``, ``alphaedit``,
``ft-m``, ``ft-l``, ``lora`` and ``grace``. :func:`run_plans` runs several plans in an explicit
edit mode (``independent``, ``sequential`` or ``batch``).
"""

from prefedit.editing.alphaedit import AlphaEditConfig, AlphaEditEditor, AlphaEditState
from prefedit.editing.base import EDITORS, EditMode, EditPlan, EditRequest, Editor, get_editor, register_editor
from prefedit.editing.ft import FtConfig, FtLConfig, FtLEditor, FtMConfig, FtMEditor
from prefedit.editing.grace import GraceConfig, GraceEditor
from prefedit.editing.lora import LoraEditConfig, LoraEditor
from prefedit.editing.memit import MemitConfig, MemitEditor
from prefedit.editing.modes import EDIT_MODES, editor_modes, merge_plans, run_plans
from prefedit.editing.rome import RomeConfig, RomeEditor

__all__ = [
    "EDITORS",
    "EDIT_MODES",
    "AlphaEditConfig",
    "AlphaEditEditor",
    "AlphaEditState",
    "EditMode",
    "EditPlan",
    "EditRequest",
    "Editor",
    "FtConfig",
    "FtLConfig",
    "FtLEditor",
    "FtMConfig",
    "FtMEditor",
    "GraceConfig",
    "GraceEditor",
    "LoraEditConfig",
    "LoraEditor",
    "MemitConfig",
    "MemitEditor",
    "RomeConfig",
    "RomeEditor",
    "editor_modes",
    "get_editor",
    "merge_plans",
    "register_editor",
    "run_plans",
]
