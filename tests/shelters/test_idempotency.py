"""Check-ins carry an Idempotency-Key: a tap re-sent over a flaky connection counts once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from kizuna.db import utcnow
from kizuna.models import IdempotencyKey
from kizuna.tasks import TaskRegistry
from shelters import tasks
from shelters.models import ShelterHistory
from tests.shelters.test_shelters import make_shelters, open_shelter, shelter
from tests.support import LiveServer, http


def ready_shelter(server: LiveServer, source_id: str, capacity: int = 100) -> str:
    shelter_id = make_shelters(server, shelter(source_id, 139.01, 35.01, capacity=capacity))[
        source_id
    ]
    open_shelter(server, shelter_id)
    return shelter_id


def check_in(
    server: LiveServer, shelter_id: str, key: str | None, delta: int = 1
) -> httpx.Response:
    headers = server.auth("officer-a")
    if key is not None:
        headers["Idempotency-Key"] = key
    return http.post(
        f"{server.url}/api/v1/shelters/{shelter_id}/occupancy",
        json={"delta": delta},
        headers=headers,
        timeout=60,
    )


def occupancy(server: LiveServer, shelter_id: str) -> int:
    return int(
        http.get(f"{server.url}/api/v1/shelters/{shelter_id}", timeout=30).json()["occupancy"]
    )


def history_rows(server: LiveServer, shelter_id: str) -> int:
    with server.runtime.db.session() as session:
        return int(
            session.scalar(select(func.count()).where(ShelterHistory.shelter_id == shelter_id)) or 0
        )


def test_a_repeat_gets_the_first_answer_and_counts_nothing_again(server: LiveServer) -> None:
    shelter_id = ready_shelter(server, "idem-replay")
    first = check_in(server, shelter_id, "tap-1", delta=2)
    assert first.status_code == 200, first.text
    assert first.json()["occupancy"] == 2
    assert "Idempotent-Replayed" not in first.headers
    rows = history_rows(server, shelter_id)

    again = check_in(server, shelter_id, "tap-1", delta=2)
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert occupancy(server, shelter_id) == 2
    assert history_rows(server, shelter_id) == rows

    # A new key is a new tap; no key at all behaves as before.
    assert check_in(server, shelter_id, "tap-2").json()["occupancy"] == 3
    assert check_in(server, shelter_id, None).json()["occupancy"] == 4


def test_the_same_key_with_another_body_is_refused(server: LiveServer) -> None:
    shelter_id = ready_shelter(server, "idem-reuse")
    assert check_in(server, shelter_id, "tap-x", delta=1).status_code == 200
    reused = check_in(server, shelter_id, "tap-x", delta=-1)
    assert reused.status_code == 422, reused.text
    error = reused.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert error["field"] == "Idempotency-Key"
    assert occupancy(server, shelter_id) == 1


def test_keys_are_scoped_to_one_shelter(server: LiveServer) -> None:
    one = ready_shelter(server, "idem-one")
    two = ready_shelter(server, "idem-two")
    assert check_in(server, one, "same-key").json()["occupancy"] == 1
    assert check_in(server, two, "same-key").json()["occupancy"] == 1
    assert occupancy(server, one) == 1


def test_twenty_concurrent_duplicates_count_once(server: LiveServer) -> None:
    shelter_id = ready_shelter(server, "idem-race")
    key = str(uuid.uuid4())
    server.login("officer-a")
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: check_in(server, shelter_id, key), range(20)))
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
    assert {a.json()["occupancy"] for a in answers} == {1}
    replayed = [a for a in answers if a.headers.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == 19
    assert occupancy(server, shelter_id) == 1


def test_a_malformed_key_is_refused_and_nothing_changes(server: LiveServer) -> None:
    shelter_id = ready_shelter(server, "idem-bad")
    for bad in ("", "has space", "x" * 101, "dot.ted", "semi;colon"):
        response = check_in(server, shelter_id, bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]["field"] == "Idempotency-Key"
    assert check_in(server, shelter_id, "A-z_0-9" + "x" * 93).status_code == 200
    assert occupancy(server, shelter_id) == 1


def test_a_refused_change_keeps_no_key(server: LiveServer) -> None:
    # A check-in refused (closed shelter) stores nothing: the same key works once it opens.
    shelter_id = make_shelters(server, shelter("idem-closed", 139.01, 35.01))["idem-closed"]
    refused = check_in(server, shelter_id, "tap-closed")
    assert refused.status_code == 409, refused.text
    open_shelter(server, shelter_id)
    accepted = check_in(server, shelter_id, "tap-closed")
    assert accepted.status_code == 200, accepted.text
    assert "Idempotent-Replayed" not in accepted.headers
    assert occupancy(server, shelter_id) == 1


def test_keys_older_than_a_day_are_purged_by_the_timer(server: LiveServer) -> None:
    shelter_id = ready_shelter(server, "idem-purge")
    assert check_in(server, shelter_id, "old-tap").status_code == 200
    assert check_in(server, shelter_id, "new-tap").status_code == 200
    with server.runtime.db.session() as session:
        old = session.get(IdempotencyKey, (f"shelters.occupancy:{shelter_id}", "old-tap"))
        assert old is not None
        old.created_at = utcnow() - timedelta(hours=25)
        # Another capability's old key is not ours to forget.
        session.add(
            IdempotencyKey(
                scope="other.thing:1",
                key="old-tap",
                request_hash="0" * 64,
                response_status=200,
                response_body={},
                created_at=utcnow() - timedelta(hours=25),
            )
        )

    registry = TaskRegistry()

    class Holder:
        pass

    holder = Holder()
    holder.registry = registry  # type: ignore[attr-defined]
    tasks.register(holder)  # type: ignore[arg-type]
    assert registry.timers[tasks.PURGE_KEYS] == tasks.PURGE_INTERVAL_S

    assert registry.get(tasks.PURGE_KEYS).function(server.runtime) == 1
    with server.runtime.db.session() as session:
        keys = set(session.execute(select(IdempotencyKey.scope, IdempotencyKey.key)).all())
    assert keys == {
        (f"shelters.occupancy:{shelter_id}", "new-tap"),
        ("other.thing:1", "old-tap"),
    }
    # The purged key is free again: a tap with it counts as new.
    again = check_in(server, shelter_id, "old-tap")
    assert "Idempotent-Replayed" not in again.headers
    assert occupancy(server, shelter_id) == 3
