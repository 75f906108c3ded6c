"""Per-user preferences and their deltas: SQLite (WAL) plus one safetensors file per preference.

``Store.open()`` opens the store at ``$PREFEDIT_HOME``; ``Personalizer`` edits and stores on one
base model. The CLI (``prefedit user ...``) and the server (``prefedit serve``) share both.
"""

from prefedit.store.personalizer import Personalizer
from prefedit.store.records import PreferenceDraft, PreferenceRecord, UserRecord
from prefedit.store.schema import SCHEMA_VERSION
from prefedit.store.store import AlreadyExistsError, Store

__all__ = [
    "SCHEMA_VERSION",
    "AlreadyExistsError",
    "Personalizer",
    "PreferenceDraft",
    "PreferenceRecord",
    "Store",
    "UserRecord",
]
