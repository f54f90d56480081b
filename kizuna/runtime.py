"""The assembled pieces one process needs: settings, database, bus, tasks, live connections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kizuna.bus import Bus, InProcessBus
from kizuna.db import Database
from kizuna.outbox import OutboxRelay
from kizuna.settings import Settings
from kizuna.tasks import InProcessTaskRunner, TaskRegistry, TaskRunner
from kizuna.ws import ConnectionHub


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

    def hub(self, name: str) -> ConnectionHub:
        """The live-connection hub for one kind of client (residents, responders, ...)."""
        if name not in self.hubs:
            self.hubs[name] = ConnectionHub()
        return self.hubs[name]

    def close(self) -> None:
        self.tasks.shutdown()
        self.db.dispose()


def build_runtime(settings: Settings) -> Runtime:
    """Wire the implementations the settings ask for and register every domain's tasks."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    registry = TaskRegistry()
    runtime = Runtime(settings=settings, db=db, bus=InProcessBus(), registry=registry)
    runtime.tasks = InProcessTaskRunner(runtime, registry)
    runtime.relay = OutboxRelay(runtime)
    db.after_outbox_commit.append(runtime.relay.kick)

    import alerts.tasks

    alerts.tasks.register(runtime)
    return runtime
