"""The background-work seam: named tasks, and the in-process runner of the embedded default."""

from __future__ import annotations

import contextvars
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

log = logging.getLogger(__name__)

TaskFunction = Callable[..., Any]


class RetryableError(Exception):
    """A task failed for a reason that may pass (a service down); run it again later."""


@dataclass(frozen=True)
class TaskSpec:
    name: str
    function: TaskFunction
    max_retries: int = 5
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0


class TaskRegistry:
    """Task functions by name; every task takes the runtime first, then JSON keyword arguments."""

    def __init__(self) -> None:
        self._specs: dict[str, TaskSpec] = {}
        # Tasks to run every so many seconds: by `serve` when embedded, by Celery beat when not.
        self.timers: dict[str, float] = {}

    def register(self, name: str, function: TaskFunction, **options: Any) -> None:
        self._specs[name] = TaskSpec(name, function, **options)

    def every(self, name: str, interval_s: float) -> None:
        """Run the registered task `name` every `interval_s` seconds."""
        self.get(name)
        self.timers[name] = interval_s

    def get(self, name: str) -> TaskSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(f"no task named {name!r}") from None

    def names(self) -> list[str]:
        return sorted(self._specs)


def backoff_delay(spec: TaskSpec, attempt: int) -> float:
    """Exponential backoff with full jitter, so retries from many tasks do not arrive together."""
    ceiling = min(spec.backoff_max_s, spec.backoff_s * (2**attempt))
    return random.uniform(0, ceiling)


class TaskRunner(Protocol):
    """Runs named tasks somewhere: a thread pool here, Celery workers in distributed mode."""

    def submit(self, name: str, **kwargs: Any) -> None: ...

    def shutdown(self) -> None: ...


class InProcessTaskRunner:
    """Runs tasks on a small thread pool in this process, retrying with backoff and jitter."""

    def __init__(self, runtime: Runtime, registry: TaskRegistry, workers: int = 4) -> None:
        self._runtime = runtime
        self._registry = registry
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kizuna-task")
        self._closed = threading.Event()
        self._futures: set[Future[None]] = set()
        self._lock = threading.Lock()

    def alive(self) -> bool:
        """Whether this runner still takes tasks (for readiness checks)."""
        return not self._closed.is_set()

    def submit(self, name: str, **kwargs: Any) -> None:
        spec = self._registry.get(name)
        # The task runs with the submitter's context (its request id shows in the task's logs).
        context = contextvars.copy_context()
        future = self._pool.submit(context.run, self._run, spec, kwargs)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def _run(self, spec: TaskSpec, kwargs: dict[str, Any]) -> None:
        for attempt in range(spec.max_retries + 1):
            if self._closed.is_set():
                return
            try:
                spec.function(self._runtime, **kwargs)
                return
            except Exception:
                if attempt >= spec.max_retries:
                    log.exception(
                        "task %s failed for good after %d attempts", spec.name, attempt + 1
                    )
                    return
                delay = backoff_delay(spec, attempt)
                log.warning(
                    "task %s failed (attempt %d); retrying in %.2fs",
                    spec.name,
                    attempt + 1,
                    delay,
                    exc_info=True,
                )
                self._closed.wait(delay)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no task is running or queued; for tests and orderly shutdown."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._futures:
                    return True
            time.sleep(0.02)
        return False

    def shutdown(self) -> None:
        self._closed.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
