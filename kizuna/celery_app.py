"""Celery for the distributed mode: every registered task becomes a Celery task; beat timers."""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery, signals
from kombu.exceptions import OperationalError as KombuOperationalError

from kizuna.bus import BusUnavailable
from kizuna.context import RequestContext, current_request, reset_request, set_request
from kizuna.settings import Settings
from kizuna.tasks import TaskRegistry, TaskSpec

log = logging.getLogger(__name__)

_worker_runtime: Any = None
_worker_lock = threading.Lock()

# The submitting request's id travels in this message header to the worker's log lines.
REQUEST_ID_HEADER = "kizuna_request_id"
_task_contexts: dict[str, object] = {}


@signals.before_task_publish.connect
def _stamp_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    request_id = current_request().request_id
    if headers is not None and request_id and REQUEST_ID_HEADER not in headers:
        headers[REQUEST_ID_HEADER] = request_id


@signals.task_prerun.connect
def _enter_request_context(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    request = getattr(task, "request", None)
    request_id = getattr(request, REQUEST_ID_HEADER, None) or (
        (getattr(request, "headers", None) or {}).get(REQUEST_ID_HEADER)
    )
    # A task nobody's request submitted (beat, the reconciler) is known by its task id.
    context = RequestContext(request_id=str(request_id or task_id), remote_addr=None)
    if task_id:
        _task_contexts[task_id] = set_request(context)


@signals.task_postrun.connect
def _leave_request_context(task_id: str | None = None, **_: Any) -> None:
    token = _task_contexts.pop(task_id, None) if task_id else None
    if token is not None:
        reset_request(token)


def _runtime_for_worker() -> Any:
    """The worker process's runtime, built on first use from the environment's settings."""
    global _worker_runtime
    with _worker_lock:
        if _worker_runtime is None:
            from kizuna.runtime import build_runtime

            _worker_runtime = build_runtime(Settings())
        return _worker_runtime


def make_celery(settings: Settings, registry: TaskRegistry) -> Celery:
    """A Celery app on the settings' Redis, with late acks and jittered exponential retries."""
    app = Celery("kizuna", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        # A worker killed mid-task (kill -9, OOM) must not lose the task: it goes back.
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_default_queue="kizuna",
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.celery_visibility_timeout_s},
        worker_hijack_root_logger=False,
        beat_schedule={
            name: {"task": name, "schedule": interval} for name, interval in registry.timers.items()
        },
    )
    for name in registry.names():
        _bind(app, registry.get(name))
    return app


def _bind(app: Celery, spec: TaskSpec) -> None:
    def run(self: Any, **kwargs: Any) -> None:
        spec.function(_runtime_for_worker(), **kwargs)

    app.task(
        name=spec.name,
        bind=True,
        autoretry_for=(Exception,),
        retry_backoff=max(1, int(spec.backoff_s)),
        retry_backoff_max=int(spec.backoff_max_s),
        retry_jitter=True,
        max_retries=spec.max_retries,
    )(run)


class CeleryTaskRunner:
    """Submits named tasks to Celery workers through Redis."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def submit(self, name: str, **kwargs: Any) -> None:
        try:
            self.app.send_task(name, kwargs=kwargs)
        except (KombuOperationalError, OSError) as exc:
            raise BusUnavailable(f"task queue unavailable: {exc}") from exc

    def shutdown(self) -> None:
        self.app.close()
