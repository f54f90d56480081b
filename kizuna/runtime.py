"""The assembled pieces one process needs: settings, database, bus, tasks, live connections."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from kizuna.bus import Bus, InProcessBus
from kizuna.db import Database
from kizuna.outbox import OutboxRelay
from kizuna.settings import Settings
from kizuna.tasks import InProcessTaskRunner, TaskRegistry, TaskRunner
from kizuna.ws import ConnectionHub

RELAY_OUTBOX = "kizuna.relay_outbox"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: Bus
    registry: TaskRegistry
    hubs: dict[str, ConnectionHub] = field(default_factory=dict)
    tasks: TaskRunner = field(init=False)
    relay: OutboxRelay = field(init=False)
    cache: dict[str, Any] = field(default_factory=dict)
    celery: Any = None
    # Extra delivery channels (Web Push, ...) by channel name; see alerts.tasks.Notifier.
    notifiers: dict[str, Any] = field(default_factory=dict)

    def hub(self, name: str) -> ConnectionHub:
        """The live-connection hub for one kind of client (residents, responders, ...)."""
        if name not in self.hubs:
            self.hubs[name] = ConnectionHub.from_settings(self.settings)
        return self.hubs[name]

    def close(self) -> None:
        self.tasks.shutdown()
        self.db.dispose()


def build_runtime(settings: Settings) -> Runtime:
    """Wire the implementations the settings ask for and register every domain's tasks."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    registry = TaskRegistry()
    bus: Bus
    if settings.redis_url:
        from kizuna.redis_bus import RedisBus

        bus = RedisBus(settings.redis_url)
    else:
        bus = InProcessBus()
    runtime = Runtime(settings=settings, db=db, bus=bus, registry=registry)
    runtime.relay = OutboxRelay(runtime)
    if settings.crash_point == "after_outbox_commit":
        db.after_outbox_commit.append(_crash)
    db.after_outbox_commit.append(runtime.relay.kick)

    import alerts.tasks
    import dispatch.tasks
    import kizuna.ratelimit
    import mutual_aid.tasks
    import shelters.tasks

    registry.register(RELAY_OUTBOX, lambda rt: rt.relay.publish_pending(), max_retries=0)
    if settings.redis_url:
        # Embedded, `serve` relays on its own loop; distributed, beat adds a cluster-wide pass.
        registry.every(RELAY_OUTBOX, settings.outbox_poll_interval_s)
    alerts.tasks.register(runtime)
    dispatch.tasks.register(runtime)
    mutual_aid.tasks.register(runtime)
    shelters.tasks.register(runtime)
    kizuna.ratelimit.register(runtime)
    _register_integrations(runtime)
    if settings.redis_url:
        from kizuna.celery_app import CeleryTaskRunner, make_celery

        runtime.celery = make_celery(settings, registry)
        runtime.tasks = CeleryTaskRunner(runtime.celery)
    else:
        runtime.tasks = InProcessTaskRunner(runtime, registry)
    return runtime


def _crash(topics: set[str]) -> None:
    # Test hook: die like kill -9 would, after an alert's commit and before the relay publishes.
    if "alert.issued" in topics:
        os._exit(137)


def _register_integrations(runtime: Runtime) -> None:
    """Each integration may offer `register(runtime)` for its tasks, handlers and notifiers."""
    import importlib

    from integrations import INTEGRATIONS

    for name in INTEGRATIONS:
        module = importlib.import_module(f"integrations.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(runtime)
