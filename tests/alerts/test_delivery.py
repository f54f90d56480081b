"""An issued alert reaches exactly the residents inside its area, live, once, in their language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from alerts import service
from alerts.models import AlertVersion, Delivery, FanoutChunk
from alerts.tasks import deliver_chunk, fanout
from tests.support import CITY_A, LiveServer, alert_body, polygon, wait_for


def settled(server: LiveServer, alert_id: str, recipients: int) -> bool:
    return server.deliveries(alert_id)["recipients"] == recipients


def test_alert_reaches_inside_boundary_and_municipality_residents_but_not_outside(
    server: LiveServer,
) -> None:
    inside = server.subscribe([{"label": "home", "lon": 139.02, "lat": 35.05}], ["en"])
    on_edge = server.subscribe([{"label": "edge", "lon": 139.05, "lat": 35.05}], ["ja"])
    on_vertex = server.subscribe([{"label": "corner", "lon": 139.0, "lat": 35.0}], ["ja"])
    by_code = server.subscribe([{"label": "city", "municipality_code": CITY_A}], ["ko", "ja"])
    outside = server.subscribe([{"label": "home", "lon": 139.07, "lat": 35.05}], ["en"])
    other_city = server.subscribe([{"label": "home", "lon": 139.15, "lat": 35.05}], ["en"])
    sockets = {
        r.id: server.connect(r) for r in (inside, on_edge, on_vertex, by_code, outside, other_city)
    }

    issued = server.draft_and_issue()
    assert issued["recipients"] == 4

    expected = {inside.id: 1, on_edge.id: 1, on_vertex.id: 1, by_code.id: 1}
    got = {rid: sock.alerts(expect=expected.get(rid, 0)) for rid, sock in sockets.items()}
    assert [m["headline"] for m in got[inside.id]] == ["Evacuation order"]
    assert got[inside.id][0]["language"] == "en"
    assert [m["headline"] for m in got[on_edge.id]] == ["避難指示"]
    assert len(got[on_vertex.id]) == 1
    # Korean is not offered: the resident's next language, Japanese, is used.
    assert [m["language"] for m in got[by_code.id]] == ["ja"]
    assert got[outside.id] == []
    assert got[other_city.id] == []
    message = got[inside.id][0]
    assert message["alert_id"] == issued["id"]
    assert message["msg_type"] == "Alert"
    assert message["evacuation_level"] == 4

    counts = server.deliveries(issued["id"])
    assert counts["recipients"] == 4
    assert counts["channels"]["websocket"] == {
        "pending": 0,
        "sent": 4,
        "delivered": 0,
        "failed": 0,
        "superseded": 0,
    }
    for sock in sockets.values():
        sock.close()


def test_resident_who_connects_later_gets_the_active_alert_and_pending_becomes_sent(
    server: LiveServer,
) -> None:
    early = server.subscribe([{"lon": 139.01, "lat": 35.01}], ["en"])
    issued = server.draft_and_issue()
    wait_for(lambda: settled(server, issued["id"], 1))
    counts = server.deliveries(issued["id"])["channels"]["websocket"]
    assert counts["pending"] == 1 and counts["sent"] == 0

    sock = server.connect(early)
    assert [m["alert_id"] for m in sock.alerts(expect=1)] == [issued["id"]]
    assert server.deliveries(issued["id"])["channels"]["websocket"]["sent"] == 1

    # Registered after the alert was issued: still told, and counted.
    late = server.subscribe([{"lon": 139.03, "lat": 35.03}], ["en"])
    late_sock = server.connect(late)
    received = late_sock.alerts(expect=1)
    assert [m["alert_id"] for m in received] == [issued["id"]]
    assert received[0]["replay"] is False
    assert server.deliveries(issued["id"])["recipients"] == 2

    # Reconnecting shows the alert again as a replay, without a second delivery.
    sock.close()
    again = server.connect(early)
    replayed = again.alerts(expect=1)
    assert [m["replay"] for m in replayed] == [True]
    assert server.deliveries(issued["id"])["channels"]["websocket"]["sent"] == 2
    for s in (late_sock, again):
        s.close()


def test_update_and_cancel_reach_everyone_the_alert_reached(server: LiveServer) -> None:
    stays = server.subscribe([{"lon": 139.01, "lat": 35.01}], ["en"])
    leaves = server.subscribe([{"lon": 139.04, "lat": 35.04}], ["en"])
    joins = server.subscribe([{"lon": 139.08, "lat": 35.08}], ["en"])
    socks = {r.id: server.connect(r) for r in (stays, leaves, joins)}
    issued = server.draft_and_issue()
    assert issued["recipients"] == 2
    for rid in (stays.id, leaves.id):
        assert len(socks[rid].alerts(expect=1)) == 1

    with server.client() as client:
        updated = client.post(
            f"/api/v1/alerts/{issued['id']}/update",
            json={
                "area": {"geometry": polygon(139.0, 35.0, 139.02, 35.02)},
                "info": [
                    {
                        "language": "en",
                        "headline": "Area changed",
                        "description": "Now only the south-west",
                        "instruction": "Go",
                    }
                ],
            },
            headers=server.auth("officer-a"),
        )
    assert updated.status_code == 200, updated.text
    assert updated.json()["msg_type"] == "Update"
    assert updated.json()["version"] == 2

    first = socks[stays.id].alerts(expect=1)
    assert [(m["msg_type"], m["headline"], m["in_area"]) for m in first] == [
        ("Update", "Area changed", True)
    ]
    assert len(first[0]["references"]) == 1
    left = socks[leaves.id].alerts(expect=1)
    assert [(m["msg_type"], m["in_area"]) for m in left] == [("Update", False)]
    assert socks[joins.id].alerts() == []

    with server.client() as client:
        cancelled = client.post(
            f"/api/v1/alerts/{issued['id']}/cancel",
            json={"reason": "river level falling"},
            headers=server.auth("officer-a"),
        )
    assert cancelled.status_code == 200, cancelled.text
    for rid in (stays.id, leaves.id):
        messages = socks[rid].alerts(expect=1)
        assert [m["msg_type"] for m in messages] == ["Cancel"]
        assert messages[0]["cancel_reason"] == "river level falling"
        assert len(messages[0]["references"]) == 2

    with server.client() as client:
        active = client.get(
            "/api/v1/alerts", params={"active": "true"}, headers=server.auth("officer-a")
        ).json()
        detail = client.get(f"/api/v1/alerts/{issued['id']}", headers=server.auth("officer-a"))
    assert active == []
    history = detail.json()["versions"]
    assert [v["msg_type"] for v in history] == ["Alert", "Update", "Cancel"]
    assert detail.json()["state"] == "cancelled"
    for sock in socks.values():
        sock.close()


def test_a_retried_fanout_records_and_sends_each_delivery_once(server: LiveServer) -> None:
    residents = [
        server.subscribe([{"lon": 139.0 + i * 0.004, "lat": 35.02}], ["en"]) for i in range(10)
    ]
    socks = [server.connect(r) for r in residents]
    issued = server.draft_and_issue()
    assert issued["recipients"] == 10
    wait_for(lambda: server.deliveries(issued["id"])["channels"]["websocket"]["sent"] == 10)

    with server.runtime.db.session() as session:
        version_id = session.query(AlertVersion.id).filter_by(alert_id=issued["id"]).scalar()
    # A worker died after doing the chunk but before marking it done: it runs again, twice.
    for _ in range(2):
        with server.runtime.db.session() as session:
            session.execute(update(FanoutChunk).values(done_at=None))
            session.execute(update(AlertVersion).values(fanout_completed_at=None))
        assert deliver_chunk(server.runtime, version_id, 0) == 10
    assert fanout(server.runtime, version_id) == 10

    counts = server.deliveries(issued["id"])
    assert counts["recipients"] == 10
    assert counts["channels"]["websocket"]["sent"] == 10
    for sock in socks:
        assert len(sock.alerts(expect=1)) == 1
        sock.close()


def test_acknowledgements_are_counted_once(server: LiveServer) -> None:
    resident = server.subscribe([{"lon": 139.01, "lat": 35.01}], ["en"])
    outsider = server.subscribe([{"lon": 139.09, "lat": 35.09}], ["en"])
    sock = server.connect(resident)
    other = server.connect(outsider)
    issued = server.draft_and_issue()
    assert len(sock.alerts(expect=1)) == 1

    sock.send({"ack": issued["id"]})
    assert sock.next_message() == {"type": "ack", "alert_id": issued["id"], "recorded": True}
    sock.send({"ack": issued["id"]})
    assert sock.next_message()["recorded"] is False
    other.send({"ack": issued["id"]})
    assert other.next_message()["error"]["code"] == "conflict"
    sock.send({"ack": "no-such-alert"})
    assert sock.next_message()["error"]["code"] == "not_found"
    sock.send({"hello": 1})
    assert sock.next_message()["error"]["code"] == "unknown_message"

    assert server.deliveries(issued["id"])["acknowledged"] == 1
    sock.close()
    other.close()


def test_expired_alert_leaves_the_active_list_and_is_not_sent_to_new_connections(
    server: LiveServer,
) -> None:
    resident = server.subscribe([{"lon": 139.01, "lat": 35.01}], ["en"])
    expires = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    issued = server.draft_and_issue(expires=expires)
    with server.client() as client:
        headers = server.auth("officer-a")
        active = client.get("/api/v1/alerts?active=true", headers=headers).json()
        assert [a["id"] for a in active] == [issued["id"]]

        def gone() -> bool:
            return client.get("/api/v1/alerts?active=true", headers=headers).json() == []

        wait_for(gone, timeout=10)
        wait_for(
            lambda: (
                client.get(f"/api/v1/alerts/{issued['id']}", headers=headers).json()["state"]
                == "expired"
            ),
            timeout=10,
        )
    sock = server.connect(resident)
    assert sock.alerts() == []
    sock.close()


@pytest.mark.parametrize("token", ["not-a-token", ""])
def test_websocket_with_a_bad_token_is_closed_with_policy_violation(
    server: LiveServer, token: str
) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{server.port}/ws/alerts?token={token}"
    with connect(url) as sock, pytest.raises(ConnectionClosed) as closed:
        sock.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


def test_preview_counts_before_anything_is_sent(server: LiveServer) -> None:
    for lon in (139.01, 139.02, 139.08):
        server.subscribe([{"lon": lon, "lat": 35.05}])
    with server.client() as client:
        response = client.post(
            "/api/v1/alerts/preview",
            json={"area": alert_body()["area"]},
            headers=server.auth("officer-a"),
        )
        assert response.status_code == 200, response.text
        assert response.json()["recipients"] == 2
        circles = client.post(
            "/api/v1/alerts/preview",
            json={"area": {"circles": [{"lon": 139.08, "lat": 35.05, "radius_km": 1}]}},
            headers=server.auth("officer-a"),
        )
        assert circles.json()["recipients"] == 1
        assert client.get("/api/v1/alerts", headers=server.auth("officer-a")).json() == []


def test_a_fanout_that_runs_after_the_cancel_never_sends_the_cancelled_order(
    server: LiveServer,
) -> None:
    """Issue then cancel at once: the Alert's fan-out may still be queued or half done when the
    Cancel is out. Whatever it records or tries to send afterwards must not reach a phone."""
    early = server.subscribe([{"lon": 139.01, "lat": 35.01}], ["en"])
    issued = server.draft_and_issue()
    wait_for(lambda: settled(server, issued["id"], 1))
    headers = server.auth("officer-a")
    with server.client() as client:
        cancelled = client.post(
            f"/api/v1/alerts/{issued['id']}/cancel", json={"reason": "river fell"}, headers=headers
        )
        assert cancelled.status_code == 200, cancelled.text

    # The Cancel's own fan-out done: the late resident is not one of its recipients.
    def cancel_recorded() -> bool:
        summary = server.deliveries(issued["id"])
        return (
            summary["version"] == 2 and sum(summary["channels"].get("websocket", {}).values()) == 1
        )

    wait_for(cancel_recorded)
    late = server.subscribe([{"lon": 139.02, "lat": 35.02}], ["en"])
    with server.runtime.db.session() as session:
        first = session.scalars(
            select(AlertVersion).where(
                AlertVersion.alert_id == issued["id"], AlertVersion.version == 1
            )
        ).one()
        # The Alert's fan-out, late: it records the late resident and puts the early one's
        # row back to pending (as a failed send would).
        service.record_deliveries(session, first.id, [late.id], "websocket")
        session.execute(
            update(Delivery)
            .where(Delivery.alert_version_id == first.id, Delivery.subscription_id == early.id)
            .values(state="pending")
        )
    with server.runtime.db.session() as session:
        assert service.claim_pending(session, first.id, [early.id, late.id]) == []
        states = dict(
            session.execute(
                select(Delivery.subscription_id, Delivery.state).where(
                    Delivery.alert_version_id == first.id, Delivery.channel == "websocket"
                )
            ).all()
        )
    assert states == {early.id: "superseded", late.id: "superseded"}
    # The early resident learns only that the order was lifted; the late one, nothing.
    for resident, expected in ((early, ["Cancel"]), (late, [])):
        sock = server.connect(resident)
        assert [m["msg_type"] for m in sock.alerts(expect=len(expected))] == expected
        sock.close()
