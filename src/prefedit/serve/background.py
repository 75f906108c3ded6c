"""A uvicorn server in a background thread, on loopback (tests, notebooks, benchmarks)::

    with BackgroundServer(build_app(engine, "admin")) as server:
        httpx.get(server.url + "/health")
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

from prefedit.errors import PrefeditError


class BackgroundServer:
    """Runs ``app`` on ``host`` at ``port`` (0 = any free port) until the ``with`` block ends."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *, start_timeout: float = 30.0) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
        self.host = host
        self.start_timeout = start_timeout
        self._thread = threading.Thread(target=self.server.run, name="prefedit-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise PrefeditError(f"the server did not start on {self.host} within {self.start_timeout} s")
            time.sleep(0.02)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=self.start_timeout)
