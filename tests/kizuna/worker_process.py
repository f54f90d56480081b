"""A real `kizuna worker` process for tests of readiness and worker logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any


def start_worker(workdir: Path, redis_url: str, **extra: str) -> subprocess.Popen[Any]:
    """A real `kizuna worker` (solo pool) on the embedded SQLite file and `redis_url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env.update(
        KIZUNA_DATA_DIR=str(workdir),
        KIZUNA_REDIS_URL=redis_url,
        KIZUNA_SECRET_KEY="test-secret-key-that-is-long-enough-for-hs256",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    log = (workdir / "worker.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "kizuna", "worker", "--pool", "solo", "--concurrency", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=workdir,
    )


def tail(workdir: Path, lines: int = 40) -> str:
    """The end of the worker's log, for a failing assertion's message."""
    path = workdir / "worker.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def stop(worker: subprocess.Popen[Any]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=15)
