"""Two-person rule: an Actual alert goes out, or changes, only when a second officer approves."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from alerts.models import Alert, AlertApproval, AlertVersion
from kizuna.models import AuditEntry
from kizuna.settings import Settings
from tests.integrations.cap.messages import TRUSTED_SENDER, cap_message
from tests.support import CITY_A, LiveServer, alert_body, http, make_settings, polygon, start_server

INSIDE_A = {"lon": 139.02, "lat": 35.05}  # inside the default alert_body area


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    """The rule switched on (it is off by default in the embedded mode tests run in)."""
    return make_settings(
        tmp_path, database_url, two_person_rule=True, cap_trusted_senders=[TRUSTED_SENDER]
    )


def draft(server: LiveServer, username: str = "officer-a", **overrides: Any) -> str:
    with server.client() as client:
        created = client.post(
            "/api/v1/alerts", json=alert_body(**overrides), headers=server.auth(username)
        )
    assert created.status_code == 201, created.text
    assert created.json()["approval"] is None
    return str(created.json()["id"])


def call(
    server: LiveServer, method: str, path: str, username: str, json: Any = None
) -> httpx.Response:
    with server.client() as client:
        return client.request(method, f"/api/v1{path}", json=json, headers=server.auth(username))


def alert(server: LiveServer, alert_id: str, username: str = "officer-a") -> dict[str, Any]:
    response = call(server, "GET", f"/alerts/{alert_id}", username)
    assert response.status_code == 200, response.text
    return dict(response.json())


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json()["error"])


def issued_with_approval(server: LiveServer, **overrides: Any) -> str:
    """An Actual alert of city A, requested by officer-a and approved by officer-a2."""
    alert_id = draft(server, **overrides)
    assert call(server, "POST", f"/alerts/{alert_id}/approval", "officer-a").status_code == 201
    approved = call(server, "POST", f"/alerts/{alert_id}/approval/approve", "officer-a2")
    assert approved.status_code == 200, approved.text
    return alert_id


def audit_actions(server: LiveServer, alert_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    with server.runtime.db.session() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.subject == alert_id).order_by(AuditEntry.id)
        ).all()
        return [(row.actor, row.action, row.detail or {}) for row in rows]


def test_an_actual_alert_is_issued_only_when_a_second_officer_approves(
    server: LiveServer,
) -> None:
    resident = server.subscribe([{"label": "home", **INSIDE_A}])
    alert_id = draft(server)

    refused = error(call(server, "POST", f"/alerts/{alert_id}/issue", "officer-a"), 409)
    assert refused["code"] == "approval_required"
    assert "request approval" in refused["message"]
    assert alert(server, alert_id)["state"] == "draft"

    # A draft is approved as it stands: changes belong to issued alerts.
    with_changes = call(
        server, "POST", f"/alerts/{alert_id}/approval", "officer-a", {"changes": {}}
    )
    assert error(with_changes, 422)["field"] == "changes"

    requested = call(server, "POST", f"/alerts/{alert_id}/approval", "officer-a")
    assert requested.status_code == 201, requested.text
    assert requested.json() | {"id": None, "requested_at": None} == {
        "id": None,
        "alert_id": alert_id,
        "kind": "issue",
        "changes": None,
        "state": "pending",
        "requested_by": "officer-a",
        "requested_at": None,
        "decided_by": None,
        "decided_at": None,
        "reason": None,
        "can_approve": False,
    }
    again = error(call(server, "POST", f"/alerts/{alert_id}/approval", "officer-a2"), 409)
    assert again["code"] == "approval_pending"

    # Asking is not approving: the requester cannot approve their own request.
    own = error(call(server, "POST", f"/alerts/{alert_id}/approval/approve", "officer-a"), 403)
    assert own["code"] == "own_request"
    # Another city's officer does not see city A's draft at all (as GET /alerts/{id} answers).
    assert call(server, "GET", f"/alerts/{alert_id}", "officer-b").status_code == 404
    assert (
        call(server, "POST", f"/alerts/{alert_id}/approval/approve", "officer-b").status_code == 404
    )
    assert call(server, "POST", f"/alerts/{alert_id}/approval", "officer-b").status_code == 404
    assert call(server, "GET", "/approvals", "officer-b").json() == []
    assert call(server, "GET", "/approvals", "media").status_code == 403

    # The requester sees their request, but may not decide it; the colleague may.
    mine = alert(server, alert_id)["approval"]
    assert (mine["state"], mine["requested_by"], mine["can_approve"]) == (
        "pending",
        "officer-a",
        False,
    )
    listed = call(server, "GET", "/alerts", "officer-a2").json()
    assert [(a["id"], a["approval"]["can_approve"]) for a in listed] == [(alert_id, True)]
    [waiting] = call(server, "GET", "/approvals", "officer-a2").json()
    assert waiting["alert_id"] == alert_id
    assert waiting["kind"] == "issue"
    assert waiting["headline"] == "避難指示"
    assert (waiting["status"], waiting["evacuation_level"]) == ("Actual", 4)
    assert (waiting["alert_state"], waiting["municipality_code"]) == ("draft", CITY_A)
    assert waiting["can_approve"] is True
    assert call(server, "GET", "/approvals", "officer-a").json()[0]["can_approve"] is False
    [for_admin] = call(server, "GET", "/approvals", "admin").json()
    assert for_admin["can_approve"] is True
    assert alert(server, alert_id)["state"] == "draft"

    approved = call(server, "POST", f"/alerts/{alert_id}/approval/approve", "officer-a2")
    assert approved.status_code == 200, approved.text
    assert approved.json()["msg_type"] == "Alert"
    assert approved.json()["version"] == 1
    assert approved.json()["recipients"] == 1

    issued = alert(server, alert_id)
    assert issued["state"] == "issued"
    assert [v["msg_type"] for v in issued["versions"]] == ["Alert"]
    assert issued["approval"]["state"] == "approved"
    assert issued["approval"]["decided_by"] == "officer-a2"
    assert issued["approval"]["decided_at"] is not None
    assert call(server, "GET", "/approvals", "officer-a2").json() == []
    assert len(call(server, "GET", "/approvals?state=approved", "officer-a2").json()) == 1
    twice = error(call(server, "POST", f"/alerts/{alert_id}/approval/approve", "admin"), 409)
    assert twice["code"] == "no_pending_approval"

    # The record says who asked and who approved the version that went out.
    actions = audit_actions(server, alert_id)
    assert [(actor, action) for actor, action, _ in actions] == [
        ("officer-a", "alert.create"),
        ("officer-a", "alert.approval.request"),
        ("officer-a2", "alert.alert"),
        ("officer-a2", "alert.approval.approve"),
    ]
    issue_detail = actions[2][2]
    assert issue_detail["requested_by"] == "officer-a"
    assert issue_detail["approved_by"] == "officer-a2"
    assert (actions[3][2]["before"], actions[3][2]["after"]) == ("pending", "approved")

    socket = server.connect(resident)
    try:
        [message] = socket.alerts(expect=1, quiet=0.3)
        assert message["alert_id"] == alert_id
    finally:
        socket.close()


def test_a_rejected_request_leaves_the_draft_and_shows_the_reason(server: LiveServer) -> None:
    alert_id = draft(server)
    assert call(server, "POST", f"/alerts/{alert_id}/approval", "officer-a").status_code == 201
    path = f"/alerts/{alert_id}/approval/reject"

    for body in (None, {}, {"reason": ""}, {"reason": "x" * 2001}, {"reason": 5}):
        assert error(call(server, "POST", path, "officer-a2", body), 422)["field"] == "reason"
    unknown = error(call(server, "POST", path, "officer-a2", {"reason": "r", "x": 1}), 422)
    assert unknown["field"] == "x"
    own = error(call(server, "POST", path, "officer-a", {"reason": "changed my mind"}), 403)
    assert own["code"] == "own_request"
    assert call(server, "POST", path, "officer-b", {"reason": "no"}).status_code == 404
    assert alert(server, alert_id)["approval"]["state"] == "pending"

    rejected = call(server, "POST", path, "officer-a2", {"reason": "wrong river: say 鳴瀬川"})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["state"] == "rejected"

    shown = alert(server, alert_id)
    assert shown["state"] == "draft"
    assert shown["versions"] == []
    assert shown["approval"]["state"] == "rejected"
    assert shown["approval"]["reason"] == "wrong river: say 鳴瀬川"
    assert shown["approval"]["decided_by"] == "officer-a2"
    [listed] = call(server, "GET", "/approvals?state=rejected", "officer-a").json()
    assert listed["reason"] == "wrong river: say 鳴瀬川"
    assert listed["can_approve"] is False
    assert call(server, "GET", "/approvals", "officer-a2").json() == []
    bad_state = error(call(server, "GET", "/approvals?state=maybe", "officer-a"), 422)
    assert bad_state["field"] == "state"
    assert call(server, "POST", path, "officer-a2", {"reason": "again"}).status_code == 409

    # The requester may ask again; the new request is the one the alert shows.
    assert call(server, "POST", f"/alerts/{alert_id}/approval", "officer-a").status_code == 201
    assert alert(server, alert_id)["approval"]["state"] == "pending"
    assert [a for _, a, _ in audit_actions(server, alert_id)] == [
        "alert.create",
        "alert.approval.request",
        "alert.approval.reject",
        "alert.approval.request",
    ]
    assert audit_actions(server, alert_id)[2][2]["reason"] == "wrong river: say 鳴瀬川"


def test_only_the_requester_withdraws(server: LiveServer) -> None:
    alert_id = draft(server)
    path = f"/alerts/{alert_id}/approval"
    assert error(call(server, "DELETE", path, "officer-a"), 409)["code"] == "no_pending_approval"
    assert call(server, "POST", path, "officer-a").status_code == 201

    assert error(call(server, "DELETE", path, "officer-a2"), 403)["code"] == "not_requester"
    withdrawn = call(server, "DELETE", path, "officer-a")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["state"] == "withdrawn"
    assert withdrawn.json()["decided_by"] == "officer-a"

    approve = error(call(server, "POST", f"{path}/approve", "officer-a2"), 409)
    assert approve["code"] == "no_pending_approval"
    assert alert(server, alert_id)["state"] == "draft"
    assert alert(server, alert_id)["approval"]["state"] == "withdrawn"
    assert audit_actions(server, alert_id)[-1][1] == "alert.approval.withdraw"


def test_an_update_of_an_actual_alert_needs_approval_and_cancel_does_not(
    server: LiveServer,
) -> None:
    alert_id = issued_with_approval(server)
    refused = call(
        server, "POST", f"/alerts/{alert_id}/update", "officer-a", {"severity": "Extreme"}
    )
    assert error(refused, 409)["code"] == "approval_required"
    assert len(alert(server, alert_id)["versions"]) == 1

    path = f"/alerts/{alert_id}/approval"
    assert error(call(server, "POST", path, "officer-a"), 422)["field"] == "changes"
    bad_level = call(server, "POST", path, "officer-a", {"changes": {"evacuation_level": 9}})
    assert error(bad_level, 422)["field"] == "changes.evacuation_level"
    outside = {"changes": {"area": {"geometry": polygon(139.12, 35.0, 139.18, 35.1)}}}
    assert error(call(server, "POST", path, "officer-a", outside), 403)["field"] == "changes.area"
    past = {"changes": {"expires": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}}
    assert error(call(server, "POST", path, "officer-a", past), 422)["field"] == "changes.expires"
    unknown_code = {"changes": {"area": {"municipality_codes": ["01100"]}}}
    field = error(call(server, "POST", path, "officer-a", unknown_code), 422)["field"]
    assert field == "changes.area.municipality_codes[0]"
    assert call(server, "GET", "/approvals", "officer-a2").json() == []
    # Another city's officer sees the issued alert, but it is not theirs to act on.
    assert call(server, "POST", path, "officer-b", {"changes": {}}).status_code == 403

    requested = call(
        server,
        "POST",
        path,
        "officer-a",
        {"changes": {"evacuation_level": 5, "severity": "Extreme"}},
    )
    assert requested.status_code == 201, requested.text
    assert requested.json()["kind"] == "update"
    assert requested.json()["changes"] == {"evacuation_level": 5, "severity": "Extreme"}
    [waiting] = call(server, "GET", "/approvals", "officer-a2").json()
    assert (waiting["kind"], waiting["evacuation_level"]) == ("update", 5)
    assert call(server, "POST", f"{path}/approve", "officer-b").status_code == 403

    approved = call(server, "POST", f"{path}/approve", "officer-a2")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["msg_type"], approved.json()["version"]) == ("Update", 2)
    shown = alert(server, alert_id)
    assert shown["content"]["evacuation_level"] == 5
    assert shown["content"]["severity"] == "Extreme"
    assert shown["approval"]["kind"] == "update"
    # Who asked and who approved stays with the municipality's officers (and admins).
    assert alert(server, alert_id, "admin")["approval"]["state"] == "approved"
    assert alert(server, alert_id, "officer-b")["approval"] is None
    assert alert(server, alert_id, "media")["approval"] is None

    # A pending update request does not hold up a cancel, and cannot be granted after it.
    assert (
        call(server, "POST", path, "officer-a", {"changes": {"severity": "Minor"}}).status_code
        == 201
    )
    cancelled = call(server, "POST", f"/alerts/{alert_id}/cancel", "officer-a", {"reason": "誤報"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["msg_type"] == "Cancel"
    assert alert(server, alert_id)["approval"]["state"] == "withdrawn"
    assert call(server, "GET", "/approvals", "officer-a2").json() == []
    late = call(server, "POST", path, "officer-a", {"changes": {"severity": "Minor"}})
    assert error(late, 409)["code"] == "cancelled"


def test_an_expired_alert_cannot_be_asked_for(server: LiveServer) -> None:
    issued_id = issued_with_approval(server)
    draft_id = draft(server)
    past = datetime.now(UTC) - timedelta(minutes=1)
    with server.runtime.db.session() as session:
        session.execute(
            update(Alert).where(Alert.id.in_([issued_id, draft_id])).values(expires=past)
        )
    changes = {"changes": {"severity": "Minor"}}
    late = call(server, "POST", f"/alerts/{issued_id}/approval", "officer-a", changes)
    assert error(late, 409)["code"] == "expired"
    # A draft past its expiry is refused as /issue refuses it, and nothing is stored.
    stale = call(server, "POST", f"/alerts/{draft_id}/approval", "officer-a")
    assert error(stale, 422)["field"] == "expires"
    with server.runtime.db.session() as session:
        count = session.scalar(
            select(func.count()).select_from(AlertApproval).where(AlertApproval.state == "pending")
        )
    assert count == 0


def approve_together(server: LiveServer, alert_id: str, usernames: list[str]) -> dict[str, int]:
    """Each user approves from their own thread, released at the same moment."""
    barrier = threading.Barrier(len(usernames))
    answers: dict[str, int] = {}

    def approve(username: str) -> None:
        headers = server.auth(username)
        with server.client() as client:
            barrier.wait()
            response = client.post(f"/api/v1/alerts/{alert_id}/approval/approve", headers=headers)
        answers[username] = response.status_code

    threads = [threading.Thread(target=approve, args=(u,)) for u in usernames]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_two_approvers_at_once_issue_exactly_one_version(server: LiveServer) -> None:
    for _ in range(3):
        alert_id = draft(server)
        assert call(server, "POST", f"/alerts/{alert_id}/approval", "officer-a").status_code == 201
        answers = approve_together(server, alert_id, ["officer-a2", "admin"])
        assert sorted(answers.values()) == [200, 409], answers
        with server.runtime.db.session() as session:
            versions = session.scalar(
                select(func.count())
                .select_from(AlertVersion)
                .where(AlertVersion.alert_id == alert_id)
            )
            approval = session.scalars(
                select(AlertApproval).where(AlertApproval.alert_id == alert_id)
            ).one()
        assert versions == 1
        assert approval.state == "approved"
        winner = next(u for u, status in answers.items() if status == 200)
        assert alert(server, alert_id)["approval"]["decided_by"] == winner


def test_exercises_tests_and_trusted_imports_are_not_held(server: LiveServer) -> None:
    for status in ("Exercise", "Test"):
        alert_id = draft(server, status=status)
        assert call(server, "POST", f"/alerts/{alert_id}/issue", "officer-a").status_code == 200
        update = call(
            server, "POST", f"/alerts/{alert_id}/update", "officer-a", {"urgency": "Expected"}
        )
        assert update.status_code == 200, update.text
        asked = call(server, "POST", f"/alerts/{alert_id}/approval", "officer-a", {"changes": {}})
        assert error(asked, 409)["code"] == "approval_not_required"

    # A message from a trusted sender, brought in by an officer, goes out at once.
    imported = http.post(
        f"{server.url}/api/v1/integrations/cap",
        content=cap_message(identifier="approvals-1", sender=TRUSTED_SENDER),
        headers={"Content-Type": "application/cap+xml", **server.auth("officer-a")},
        timeout=30,
    )
    assert imported.status_code == 200, imported.text
    [message] = imported.json()["messages"]
    assert message["outcome"] == "issued"
    assert alert(server, str(message["alert_id"]))["status"] == "Actual"


def test_with_the_rule_off_an_officer_issues_directly(
    tmp_path: Path, database_url: str | None
) -> None:
    live = start_server(make_settings(tmp_path, database_url, two_person_rule=False))
    try:
        alert_id = draft(live)
        asked = error(call(live, "POST", f"/alerts/{alert_id}/approval", "officer-a"), 409)
        assert asked["code"] == "approval_not_required"
        issued = call(live, "POST", f"/alerts/{alert_id}/issue", "officer-a")
        assert issued.status_code == 200, issued.text
        updated = call(
            live, "POST", f"/alerts/{alert_id}/update", "officer-a", {"severity": "Extreme"}
        )
        assert updated.status_code == 200, updated.text
        assert alert(live, alert_id)["approval"] is None
    finally:
        live.stop()


def test_the_rule_is_on_when_distributed_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("KIZUNA_"):
            monkeypatch.delenv(name)
    assert Settings().two_person_required is False
    assert Settings(redis_url="redis://127.0.0.1:6379/0").two_person_required is True
    monkeypatch.setenv("KIZUNA_TWO_PERSON_RULE", "false")
    assert Settings(redis_url="redis://127.0.0.1:6379/0").two_person_required is False
    monkeypatch.setenv("KIZUNA_TWO_PERSON_RULE", "true")
    assert Settings().two_person_required is True
