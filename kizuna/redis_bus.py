"""The distributed bus: a durable log on Redis Streams, consumer groups, live per-process reads."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections import defaultdict
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from kizuna.bus import BusUnavailable, Handler

log = logging.getLogger(__name__)


class RedisBus:
    """Events go to one Redis stream per topic.

    A named group shares a topic's events among the processes in it (XREADGROUP); an entry is
    acknowledged only after its handlers succeed, and entries left pending by a dead consumer are
    taken over with XAUTOCLAIM. `group=None` subscribers read the stream in every process
    (XREAD from the last id seen), which is the live fan-out to every API process.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "kizuna:events:",
        max_length: int = 100_000,
        claim_idle_ms: int = 15_000,
        block_ms: int = 1_000,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.max_length = max_length
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{id(self):x}"
        self._publisher = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._broadcast: dict[str, list[Handler]] = defaultdict(list)
        self._groups: dict[tuple[str, str], list[Handler]] = defaultdict(list)
        self._tasks: list[asyncio.Task[None]] = []
        self._client: aioredis.Redis | None = None
        # redis-py may turn a cancelled read into a connection error; the loops must not
        # mistake that for an outage and retry forever during shutdown.
        self._stopping = False

    def stream(self, topic: str) -> str:
        return f"{self.prefix}{topic}"

    def subscribe(self, topic: str, handler: Handler, group: str | None = None) -> None:
        if group is None:
            self._broadcast[topic].append(handler)
        else:
            self._groups[(topic, group)].append(handler)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        try:
            self._publisher.xadd(
                self.stream(topic),
                {"payload": json.dumps(payload)},
                maxlen=self.max_length,
                approximate=True,
            )
        except redis.RedisError as exc:
            raise BusUnavailable(f"redis: {exc}") from exc

    async def start(self) -> None:
        self._client = aioredis.Redis.from_url(
            self.url, socket_connect_timeout=2, socket_timeout=self.block_ms / 1000 + 5
        )
        for topic, handlers in self._broadcast.items():
            self._tasks.append(asyncio.create_task(self._read_all(topic, handlers)))
        for (topic, group), handlers in self._groups.items():
            self._tasks.append(asyncio.create_task(self._read_group(topic, group, handlers)))

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _done, stuck = await asyncio.wait(self._tasks, timeout=5)
            for task in stuck:
                log.error("bus reader %s did not stop", task.get_name())
        self._tasks.clear()
        if self._client is not None:
            await self._client.aclose()  # type: ignore[attr-defined]
        self._publisher.close()

    @staticmethod
    def _decode(fields: dict[bytes, bytes]) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(fields[b"payload"])
        return payload

    async def _run_handlers(self, handlers: list[Handler], payload: dict[str, Any]) -> None:
        for handler in handlers:
            await handler(payload)

    async def _read_all(self, topic: str, handlers: list[Handler]) -> None:
        assert self._client is not None
        stream = self.stream(topic)
        last_id: str | None = None
        backoff = 0.2
        while not self._stopping:
            try:
                if last_id is None:
                    # Start from what exists now: older entries were for processes alive then.
                    info = (
                        await self._client.xinfo_stream(stream)
                        if await self._client.exists(stream)
                        else None
                    )
                    last_id = info["last-generated-id"].decode() if info else "0-0"
                response = await self._client.xread(
                    {stream: last_id}, count=500, block=self.block_ms
                )
                backoff = 0.2
                for _stream, entries in response or []:
                    for entry_id, fields in entries:
                        last_id = entry_id.decode()
                        try:
                            await self._run_handlers(handlers, self._decode(fields))
                        except Exception:
                            log.exception("live handler for %s failed", topic)
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError) as exc:
                if self._stopping:
                    return
                log.warning("bus: reading %s failed (%s); retrying in %.1fs", topic, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _ensure_group(self, stream: str, group: str) -> None:
        assert self._client is not None
        try:
            await self._client.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read_group(self, topic: str, group: str, handlers: list[Handler]) -> None:
        assert self._client is not None
        stream = self.stream(topic)
        backoff = 0.2
        group_ready = False
        while not self._stopping:
            try:
                if not group_ready:
                    await self._ensure_group(stream, group)
                    group_ready = True
                # Take over what a dead consumer left unacknowledged, then read new entries.
                _next, claimed, *_ = await self._client.xautoclaim(
                    stream,
                    group,
                    self.consumer,
                    min_idle_time=self.claim_idle_ms,
                    start_id="0-0",
                    count=100,
                )
                entries = list(claimed)
                if not entries:
                    response = await self._client.xreadgroup(
                        group, self.consumer, {stream: ">"}, count=100, block=self.block_ms
                    )
                    for _stream, new_entries in response or []:
                        entries.extend(new_entries)
                backoff = 0.2
                for entry_id, fields in entries:
                    if not fields:  # deleted by trimming while pending
                        await self._client.xack(stream, group, entry_id)
                        continue
                    try:
                        await self._run_handlers(handlers, self._decode(fields))
                    except Exception:
                        # Left pending: XAUTOCLAIM hands it out again after claim_idle_ms.
                        log.exception("handler for %s (group %s) failed; will retry", topic, group)
                        continue
                    await self._client.xack(stream, group, entry_id)
            except asyncio.CancelledError:
                raise
            except ResponseError as exc:
                if self._stopping:
                    return
                if "NOGROUP" in str(exc):
                    group_ready = False  # Redis restarted without its data: make the group again
                    continue
                log.warning("bus: group read of %s failed (%s)", topic, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except (redis.RedisError, OSError) as exc:
                if self._stopping:
                    return
                log.warning(
                    "bus: group read of %s failed (%s); retrying in %.1fs", topic, exc, backoff
                )
                group_ready = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
