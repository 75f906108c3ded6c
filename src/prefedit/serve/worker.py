"""The model thread: every job that touches the model's weights runs here, one at a time, in order.

Applying a user's delta, generating and reverting happen inside one job, and so do edits, so
no request ever sees another user's weights, whatever the concurrency of the HTTP side.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from prefedit.serve.errors import BusyError

log = logging.getLogger(__name__)
T = TypeVar("T")


class ModelWorker:
    """A FIFO queue of jobs and the single thread that runs them (started on first use)."""

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self._jobs: queue.Queue[tuple[Future[Any], Callable[[], Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Queue ``fn``; its result (or exception) arrives in the returned future.

        Raises:
            BusyError: ``max_pending`` jobs are already waiting.
        """
        if self._jobs.qsize() >= self.max_pending:
            raise BusyError(f"{self._jobs.qsize()} requests are waiting for the model (limit {self.max_pending})", hint="retry later")
        self._ensure_started()
        future: Future[T] = Future()
        self._jobs.put((future, fn))
        return future

    def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the model thread and wait for its result."""
        return self.submit(fn).result()

    def close(self) -> None:
        """Finish queued jobs, then stop the thread."""
        with self._start_lock:
            if self._thread is not None:
                self._jobs.put(None)
                self._thread.join()
                self._thread = None

    def _ensure_started(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="prefedit-model", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, fn = job
            if not future.set_running_or_notify_cancel():
                continue  # the caller gave up before the job started
            try:
                future.set_result(fn())
            except BaseException as exc:  # delivered to the caller, who maps it to an answer
                future.set_exception(exc)
