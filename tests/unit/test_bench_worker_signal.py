"""A bench run stopped with SIGTERM stops its method worker too (no orphan keeps computing)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as stopped
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_sigterm_to_the_runner_reaches_its_worker(tmp_path: Path) -> None:
    pidfile = tmp_path / "worker.pid"
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import prefedit.bench.efficiency as eff
        child = "import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
        eff.worker_command = lambda root, method: [sys.executable, "-c", child]
        eff.run_worker(Path("."), "m")
    """)
    runner = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    worker = int(pidfile.read_text())
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=30) == 128 + signal.SIGTERM
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker)
