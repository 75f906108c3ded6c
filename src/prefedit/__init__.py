"""prefedit: personalize a language model by editing its weights from a user's stated preferences.

Nothing runs at import; heavy modules (torch, transformers) load when first used.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
