"""The distributed deployment under faults: nothing lost, nothing delivered twice."""

from __future__ import annotations

import time
from collections import Counter

import httpx
from sqlalchemy import select

from alerts.models import AlertVersion, FanoutChunk
from kizuna.models import OutboxEvent
from tests.cluster import Cluster, issue, residents_receive, subscribe, wait_until
from tests.services import PrivateRedis
from tests.support import alert_body, polygon

INSIDE_BOX = (139.0, 35.0, 139.05, 35.1)  # the default alert_body area
CITY_BOX = (139.0, 35.0, 139.1, 35.1)


def ws(url: str) -> str:
    return url.replace("http://", "ws://")


def test_an_alert_issued_through_one_api_process_reaches_residents_on_both_once(
    cluster: Cluster,
) -> None:
    api_a, api_b = cluster.api(), cluster.api()
    cluster.worker()
    residents = []
    for i in range(200):
        lon = 139.0025 + (i % 40) * 0.0024  # half inside the west half of city A, half outside
        lat = 35.01 + (i // 40) * 0.015
        api = api_a if i % 2 == 0 else api_b
        residents.append((api, subscribe(api.url, lon, lat), lon < 139.05))
    targeted = {r["token"] for _, r, inside in residents if inside}
    assert 80 <= len(targeted) <= 120

    def all_targeted_received(inbox: dict[str, list[dict[str, object]]]) -> bool:
        return all(inbox[token] for token in targeted)

    holder: dict[str, httpx.Response] = {}
    inbox = residents_receive(
        [(ws(api.url), r["token"]) for api, r, _ in residents],
        lambda: holder.setdefault("issued", issue(api_a.url, alert_body())),
        all_targeted_received,
    )
    assert holder["issued"].status_code == 200, holder["issued"].text
    assert holder["issued"].json()["recipients"] == len(targeted)
    for api, resident, inside in residents:
        messages = inbox[resident["token"]]
        if inside:
            assert len(messages) == 1, (api.port, resident["id"], messages)
        else:
            assert messages == [], (api.port, resident["id"])
    on_b = [r for api, r, inside in residents if inside and api is api_b]
    assert on_b and all(len(inbox[r["token"]]) == 1 for r in on_b)


def test_a_worker_killed_mid_fanout_leaves_exactly_one_delivery_per_target(
    cluster: Cluster,
) -> None:
    cluster.overrides.update(KIZUNA_FANOUT_CHUNK_PAUSE_S="0.15", KIZUNA_FANOUT_CHUNK_SIZE="1000")
    api = cluster.api()
    cluster.beat()
    first_worker = cluster.worker()
    # 50,000 residents over the whole city; the alert covers its west half.
    everyone = cluster.bulk_subscribers(50_000, CITY_BOX)
    response = issue(api.url, alert_body())
    assert response.status_code == 200, response.text
    targeted = response.json()["recipients"]
    assert 20_000 < targeted < 30_000

    wait_until(lambda: cluster.delivery_count() >= 5_000, 120, "fan-out started", first_worker.tail)
    first_worker.kill9()
    mid_way = cluster.delivery_count()
    assert mid_way < targeted, "the worker finished before it could be killed"

    second_worker = cluster.worker()

    def completed() -> bool:
        with cluster.database.session() as session:
            return session.scalar(select(AlertVersion.fanout_completed_at)) is not None

    wait_until(completed, 180, "fan-out completed after the restart", second_worker.tail)
    rows = cluster.delivery_rows()
    per_key = Counter(rows)
    assert max(per_key.values()) == 1
    delivered = {subscription for _, subscription, _ in rows}
    assert len(delivered) == targeted == len(rows)
    with cluster.database.session() as session:
        chunks = session.scalars(select(FanoutChunk)).all()
        version = session.scalar(select(AlertVersion))
    assert version is not None
    chunked = {sid for chunk in chunks for sid in chunk.subscription_ids}
    assert delivered == chunked
    assert all(chunk.done_at is not None for chunk in chunks)
    assert set(everyone) >= delivered


def test_the_relay_publishes_an_alert_whose_api_died_between_commit_and_publish(
    cluster: Cluster,
) -> None:
    cluster.worker()
    crashing = cluster.api(KIZUNA_CRASH_POINT="after_outbox_commit")
    resident = subscribe(crashing.url, 139.01, 35.01)
    try:
        issue(crashing.url, alert_body())
        raise AssertionError("the API should have died after committing")
    except httpx.HTTPError:
        pass
    crashing.popen.wait(timeout=30)
    with cluster.database.session() as session:
        version = session.scalar(select(AlertVersion))
        unpublished = session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == "alert.issued")
        ).all()
    assert version is not None, "the alert must have been stored before the crash"
    assert [e.published_at for e in unpublished] == [None]

    restarted = cluster.api(port=crashing.port)
    inbox = residents_receive(
        [(ws(restarted.url), resident["token"])],
        lambda: None,
        lambda box: bool(box[resident["token"]]),
    )
    assert [m["alert_id"] for m in inbox[resident["token"]]] == [version.alert_id]
    with cluster.database.session() as session:
        event = session.scalar(select(OutboxEvent).where(OutboxEvent.topic == "alert.issued"))
        fanned = session.scalar(select(AlertVersion.fanout_completed_at))
    assert event is not None and event.published_at is not None
    assert fanned is not None
    assert len(cluster.delivery_rows()) == 1


def test_a_redis_restart_during_fanout_delays_but_neither_loses_nor_doubles(
    cluster: Cluster, private_redis: PrivateRedis
) -> None:
    cluster.overrides.update(KIZUNA_FANOUT_CHUNK_PAUSE_S="0.2", KIZUNA_FANOUT_CHUNK_SIZE="500")
    api = cluster.api()
    cluster.beat()
    worker = cluster.worker()
    cluster.bulk_subscribers(20_000, CITY_BOX)
    live = [subscribe(api.url, 139.001 + i * 0.002, 35.05) for i in range(20)]

    state: dict[str, int] = {}

    def issue_then_restart_redis() -> None:
        response = issue(api.url, alert_body())
        assert response.status_code == 200, response.text
        state["targeted"] = response.json()["recipients"]
        wait_until(lambda: cluster.delivery_count() >= 1_000, 60, "fan-out started", worker.tail)
        private_redis.restart()
        state["at_restart"] = cluster.delivery_count()

    def completed() -> bool:
        with cluster.database.session() as session:
            return session.scalar(select(AlertVersion.fanout_completed_at)) is not None

    inbox = residents_receive(
        [(ws(api.url), r["token"]) for r in live],
        issue_then_restart_redis,
        lambda box: completed() and all(box[r["token"]] for r in live),
        timeout=180,
    )
    assert state["at_restart"] < state["targeted"], "fan-out ended before Redis restarted"
    rows = cluster.delivery_rows()
    assert max(Counter(rows).values()) == 1
    assert len(rows) == state["targeted"]
    assert all(len(inbox[r["token"]]) == 1 for r in live)


def test_with_redis_down_an_officer_still_issues_and_delivery_follows_its_return(
    cluster: Cluster, private_redis: PrivateRedis
) -> None:
    api = cluster.api()
    cluster.worker()
    resident = subscribe(api.url, 139.01, 35.01)
    outsider = subscribe(api.url, 139.09, 35.09)
    holder: dict[str, httpx.Response] = {}

    def issue_while_redis_is_down() -> None:
        private_redis.stop()
        holder["issued"] = issue(
            api.url, alert_body(area={"geometry": polygon(139.0, 35.0, 139.05, 35.1)})
        )
        time.sleep(2)
        holder["before_return"] = httpx.Response(200, json={"rows": cluster.delivery_count()})
        private_redis.start()

    inbox = residents_receive(
        [(ws(api.url), resident["token"]), (ws(api.url), outsider["token"])],
        issue_while_redis_is_down,
        lambda box: bool(box[resident["token"]]),
        timeout=90,
    )
    issued = holder["issued"]
    assert issued.status_code == 200, issued.text
    assert issued.json()["delivery"] == "queued"
    assert issued.json()["recipients"] == 1
    assert holder["before_return"].json()["rows"] == 0
    assert len(inbox[resident["token"]]) == 1
    assert inbox[outsider["token"]] == []
