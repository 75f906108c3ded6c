"""FT-M and FT-L: fine-tuning of one MLP output projection."""

from prefedit.editing.ft.config import FtConfig, FtLConfig, FtMConfig
from prefedit.editing.ft.editor import FtLEditor, FtMEditor

__all__ = ["FtConfig", "FtLConfig", "FtLEditor", "FtMConfig", "FtMEditor"]
