"""An LRU of composed user deltas, keyed by the user's store state (so any change, even one made by
another process, makes the next request recompose)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from prefedit.deltas import Delta

State = tuple[int, int]


class DeltaCache:
    """At most ``size`` users' composed deltas (None = a user with no preferences)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[State, Delta | None]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, user_id: str, state: State) -> tuple[bool, Delta | None]:
        """``(found, delta)`` for ``user_id`` at ``state``."""
        with self._lock:
            item = self._items.get(user_id)
            if item is None or item[0] != state:
                self.misses += 1
                return False, None
            self._items.move_to_end(user_id)
            self.hits += 1
            return True, item[1]

    def put(self, user_id: str, state: State, delta: Delta | None) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[user_id] = (state, delta)
            self._items.move_to_end(user_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def invalidate(self, user_id: str) -> None:
        with self._lock:
            self._items.pop(user_id, None)

    def __len__(self) -> int:
        return len(self._items)
