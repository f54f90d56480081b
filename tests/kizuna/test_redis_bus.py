"""The Redis Streams bus against a real Redis: groups share, broadcasts reach all, nothing lost."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis

from kizuna.bus import BusUnavailable
from kizuna.redis_bus import RedisBus


def make_bus(url: str, prefix: str, **options: Any) -> RedisBus:
    return RedisBus(url, prefix=prefix, block_ms=100, **options)


async def settle(predicate: Any, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("bus did not deliver in time")
        await asyncio.sleep(0.05)


@pytest.fixture
def prefix(redis_url: str) -> Any:
    name = f"kizuna-test:{uuid.uuid4().hex}:"
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)


def test_a_group_shares_events_and_every_process_gets_broadcasts(
    redis_url: str, prefix: str
) -> None:
    async def scenario() -> None:
        grouped: list[tuple[str, int]] = []
        broadcast: list[tuple[str, int]] = []
        buses = [make_bus(redis_url, prefix) for _ in range(2)]
        for name, bus in zip("ab", buses, strict=True):

            async def on_group(payload: dict[str, Any], name: str = name) -> None:
                grouped.append((name, payload["n"]))

            async def on_live(payload: dict[str, Any], name: str = name) -> None:
                broadcast.append((name, payload["n"]))

            bus.subscribe("work", on_group, group="workers")
            bus.subscribe("live", on_live)
            await bus.start()
        await asyncio.sleep(0.3)  # live readers start from "now"
        for n in range(50):
            buses[n % 2].publish("work", {"n": n})
            buses[n % 2].publish("live", {"n": n})
        await settle(lambda: len(grouped) >= 50 and len(broadcast) >= 100)
        await asyncio.sleep(0.5)
        for bus in buses:
            await bus.stop()
        assert sorted(n for _, n in grouped) == list(range(50))
        assert sorted(broadcast) == sorted((name, n) for name in "ab" for n in range(50))

    asyncio.run(scenario())


def test_entries_left_pending_by_a_dead_consumer_are_claimed_and_handled(
    redis_url: str, prefix: str
) -> None:
    raw = redis.Redis.from_url(redis_url)
    stream = f"{prefix}work"
    raw.xgroup_create(stream, "workers", id="0", mkstream=True)
    for n in range(3):
        raw.xadd(stream, {"payload": f'{{"n": {n}}}'})
    # A consumer read them and died before acknowledging.
    taken = raw.xreadgroup("workers", "dead-consumer", {stream: ">"}, count=10)
    assert len(taken[0][1]) == 3

    async def scenario() -> list[int]:
        handled: list[int] = []

        async def handler(payload: dict[str, Any]) -> None:
            handled.append(payload["n"])

        bus = make_bus(redis_url, prefix, claim_idle_ms=200)
        bus.subscribe("work", handler, group="workers")
        await bus.start()
        await settle(lambda: len(handled) >= 3)
        await bus.stop()
        return handled

    assert sorted(asyncio.run(scenario())) == [0, 1, 2]
    assert raw.xpending(stream, "workers")["pending"] == 0


def test_a_failing_handler_leaves_the_event_pending_for_a_retry(
    redis_url: str, prefix: str
) -> None:
    async def scenario() -> list[int]:
        attempts: list[int] = []

        async def flaky(payload: dict[str, Any]) -> None:
            attempts.append(payload["n"])
            if len(attempts) == 1:
                raise RuntimeError("database briefly unavailable")

        bus = make_bus(redis_url, prefix, claim_idle_ms=200)
        bus.subscribe("work", flaky, group="workers")
        await bus.start()
        await asyncio.sleep(0.2)
        bus.publish("work", {"n": 7})
        await settle(lambda: len(attempts) >= 2)
        await bus.stop()
        return attempts

    assert asyncio.run(scenario()) == [7, 7]


def test_publishing_with_redis_unreachable_raises_bus_unavailable() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0")
    with pytest.raises(BusUnavailable):
        bus.publish("work", {"n": 1})
