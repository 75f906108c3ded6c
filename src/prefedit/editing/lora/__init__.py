"""LoRA: a low-rank adapter trained with peft on the edit prompts."""

from prefedit.editing.lora.config import LoraEditConfig
from prefedit.editing.lora.editor import LoraEditor

__all__ = ["LoraEditConfig", "LoraEditor"]
