"""Prometheus metrics: the counters the code bumps, and the gauges read at scrape time.

Counters and histograms live in this module's registry, one per process. With several processes
on one host (uvicorn workers, a prefork Celery worker), set `PROMETHEUS_MULTIPROC_DIR` to an
empty directory shared by all of them, before they start: prometheus_client then writes every
value to files there, and a scrape of any API process sums them (`MultiProcessCollector`).
Gauges of live state (WebSocket connections, queue depths) are not stored at all: each scrape
reads them from this process's hubs, the database and Redis.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# `*_created` timestamps double the series and say nothing a restart counter would not.
disable_created_metrics()

# Counters are created in this registry; in multiprocess mode their values go to files as well,
# and the scrape reads the files instead of this registry.
REGISTRY = CollectorRegistry(auto_describe=True)

ALERTS_ISSUED = Counter(
    "kizuna_alerts_issued",
    "Alert versions issued (Alert, Update, Cancel), counted once when their fan-out starts.",
    ["status", "msg_type"],
    registry=REGISTRY,
)
RECIPIENTS_TARGETED = Counter(
    "kizuna_recipients_targeted",
    "Residents an issued alert version was addressed to.",
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "kizuna_deliveries",
    "Delivery attempts by channel and outcome: sent, retry (back to pending) or failed.",
    ["channel", "state"],
    registry=REGISTRY,
)
DELIVERY_LATENCY = Histogram(
    "kizuna_delivery_latency_seconds",
    "From an alert version's sent (issue) time to its delivery to one resident, per channel.",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120),
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "kizuna_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "kizuna_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)


def record_delivery(channel: str, state: str, count: int = 1) -> None:
    """Count deliveries that reached `state` on `channel` (sent, retry or failed)."""
    if count:
        DELIVERIES.labels(channel=channel, state=state).inc(count)


def observe_latency(channel: str, issued: datetime | str, now: float | None = None) -> None:
    """Record one delivery's latency from the version's issue time (aware datetime or ISO)."""
    when = datetime.fromisoformat(issued) if isinstance(issued, str) else issued
    elapsed = (now if now is not None else time.time()) - when.timestamp()
    DELIVERY_LATENCY.labels(channel=channel).observe(max(0.0, elapsed))


def record_issued(status: str, msg_type: str, recipients: int) -> None:
    """Count one issued version and the residents it targets."""
    ALERTS_ISSUED.labels(status=status, msg_type=msg_type).inc()
    RECIPIENTS_TARGETED.inc(recipients)


class _ProcessValues(Collector):
    """This process's counters, or every process's when multiprocess mode is on."""

    def collect(self) -> Iterator[Metric]:
        directory = os.environ.get(MULTIPROC_ENV)
        if directory:
            yield from MultiProcessCollector(CollectorRegistry(), path=directory).collect()
        else:
            yield from REGISTRY.collect()


class _LiveState(Collector):
    """Gauges read at scrape time: connections held by this process, and queue depths."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        connections = GaugeMetricFamily(
            "kizuna_websocket_connections",
            "WebSocket connections open on this process, by hub.",
            labels=["hub"],
        )
        for name, hub in sorted(self.runtime.hubs.items()):
            connections.add_metric([name], len(hub))
        yield connections
        depth = GaugeMetricFamily(
            "kizuna_queue_depth",
            "Work waiting: pending deliveries and unpublished outbox rows (database); Celery "
            "queue and unacknowledged or unread bus entries (Redis, distributed).",
            labels=["queue"],
        )
        for queue, value in queue_depths(self.runtime).items():
            depth.add_metric([queue], value)
        yield depth


def queue_depths(runtime: Runtime) -> dict[str, float]:
    """Depth of every queue we can see; a source that does not answer is left out (logged)."""
    from alerts.models import Delivery
    from kizuna.models import OutboxEvent

    depths: dict[str, float] = {}
    try:
        with runtime.db.session() as session:
            depths["deliveries_pending"] = float(
                session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.state == "pending")
                )
                or 0
            )
            depths["outbox_unpublished"] = float(
                session.scalar(
                    select(func.count())
                    .select_from(OutboxEvent)
                    .where(OutboxEvent.published_at.is_(None))
                )
                or 0
            )
    except Exception as exc:
        log.warning("metrics: database queue depths unavailable: %s", exc)
    if runtime.settings.redis_url:
        try:
            depths.update(_redis_depths(runtime))
        except Exception as exc:
            log.warning("metrics: Redis queue depths unavailable: %s", exc)
    return depths


def _redis_depths(runtime: Runtime) -> dict[str, float]:
    import redis

    assert runtime.settings.redis_url
    client = redis.Redis.from_url(
        runtime.settings.redis_url, socket_timeout=1, socket_connect_timeout=1
    )
    try:
        # The Celery Redis transport keeps a queue as a list named after it.
        depths = {"celery:kizuna": float(client.llen("kizuna"))}
        prefix = getattr(runtime.bus, "prefix", "kizuna:events:")
        for key in client.scan_iter(match=f"{prefix}*", count=100):
            stream = key.decode() if isinstance(key, bytes) else str(key)
            waiting = 0
            try:
                groups = client.xinfo_groups(stream)
            except redis.ResponseError:
                continue  # not a stream
            for group in groups:
                # Delivered but not acknowledged, plus not yet read by the group (Redis 7+).
                waiting += int(group.get("pending") or 0) + int(group.get("lag") or 0)
            depths[f"bus:{stream.removeprefix(prefix)}"] = float(waiting)
        return depths
    finally:
        client.close()


def exposition(runtime: Runtime) -> bytes:
    """The Prometheus text exposition of every metric, as seen by this process now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessValues())
    registry.register(_LiveState(runtime))
    return generate_latest(registry)


def serve_process_metrics(port: int, host: str = "0.0.0.0") -> None:
    """Serve the counters on `host:port` from a background thread, for a Celery worker (which
    answers no HTTP); every pool process's when `PROMETHEUS_MULTIPROC_DIR` is set."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessValues())
    start_http_server(port, addr=host, registry=registry)
