"""The audit log: every write says who, what, when and from where; the hash chain catches a
deleted or altered row; the table refuses UPDATE and DELETE; admins read it over the API."""

from __future__ import annotations

import json
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from kizuna import audit
from kizuna.db import Database
from kizuna.migrate import upgrade
from kizuna.models import AuditEntry
from kizuna.settings import Settings
from shelters import service as shelters
from shelters.records import ShelterRecord
from tests.support import (
    CITY_A,
    LiveServer,
    alert_body,
    audit_entries,
    kizuna_command,
    make_settings,
)


def one(entries: list[dict[str, Any]], action: str) -> dict[str, Any]:
    found = [e for e in entries if e["action"] == action]
    assert len(found) == 1, (action, [e["action"] for e in entries])
    return found[0]


def make_shelter(server: LiveServer, source_id: str = "A-1") -> str:
    record = ShelterRecord(
        source_id=source_id,
        name=f"Shelter {source_id}",
        lon=139.01,
        lat=35.01,
        kind="shelter",
        hazards=["flood"],
        capacity=100,
        municipality_code=CITY_A,
    )
    with server.runtime.db.session() as session:
        shelters.upsert_shelters(session, [record], "test")
        shelter_id = session.scalar(
            select(shelters.Shelter.id).where(shelters.Shelter.source_id == source_id)
        )
    assert shelter_id is not None
    return str(shelter_id)


def some_writes(server: LiveServer) -> dict[str, str]:
    """An officer drafts an alert, a resident subscribes, an officer opens a shelter and checks
    two people in, opens an incident; each with its own X-Request-ID. Returns action → id."""
    ids: dict[str, str] = {}
    officer = server.auth("officer-a")
    with server.client() as client:
        created = client.post(
            "/api/v1/alerts",
            json=alert_body(),
            headers={**officer, "X-Request-ID": "req-alert-create"},
        )
        assert created.status_code == 201, created.text
        ids["alert.create"] = created.headers["X-Request-ID"]
        resident = client.post(
            "/api/v1/subscriptions",
            json={"places": [{"label": "home", "lon": 139.02, "lat": 35.02}], "languages": ["ja"]},
        )
        assert resident.status_code == 201, resident.text
        ids["subscription.create"] = resident.headers["X-Request-ID"]
        ids["resident"] = resident.json()["id"]
        shelter_id = make_shelter(server)
        ids["shelter"] = shelter_id
        current = client.get(f"/api/v1/shelters/{shelter_id}")
        opened = client.patch(
            f"/api/v1/shelters/{shelter_id}",
            json={"status": "open"},
            headers={**officer, "If-Match": current.headers["ETag"]},
        )
        assert opened.status_code == 200, opened.text
        ids["shelter.update"] = opened.headers["X-Request-ID"]
        checked_in = client.post(
            f"/api/v1/shelters/{shelter_id}/occupancy", json={"delta": 2}, headers=officer
        )
        assert checked_in.status_code == 200, checked_in.text
        ids["shelter.occupancy"] = checked_in.headers["X-Request-ID"]
        incident = client.post(
            "/api/v1/incidents",
            json={
                "kind": "fire",
                "description": "倉庫火災",
                "lon": 139.03,
                "lat": 35.03,
                "municipality_code": CITY_A,
            },
            headers=officer,
        )
        assert incident.status_code == 201, incident.text
        ids["incident.create"] = incident.headers["X-Request-ID"]
    return ids


def tamper(server: LiveServer, sql: str, **params: Any) -> None:
    """Run `sql` on audit_log past the append-only triggers, as a database superuser could."""
    with server.runtime.db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
            connection.execute(text(sql), params)
            connection.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER USER")
        else:
            triggers = connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'audit_log'"
            ).all()
            assert len(triggers) == 2
            for name, _ in triggers:
                connection.exec_driver_sql(f"DROP TRIGGER {name}")
            connection.execute(text(sql), params)
            for _, create in triggers:
                connection.exec_driver_sql(create)


def verify(server: LiveServer) -> audit.VerifyResult:
    with server.runtime.db.session() as session:
        return audit.verify(session)


def test_writes_across_domains_say_who_what_from_where_with_before_and_after(
    server: LiveServer,
) -> None:
    ids = some_writes(server)
    entries = audit_entries(server)

    created = one(entries, "alert.create")
    assert created["actor"] == "officer-a"
    assert created["request_id"] == "req-alert-create" == ids["alert.create"]
    assert created["remote_addr"] == "127.0.0.1"
    assert created["seq"] >= 1 and len(created["hash"]) == 64

    subscribed = one(entries, "subscription.create")
    assert subscribed["actor"] == f"resident:{ids['resident']}"
    assert subscribed["request_id"] == ids["subscription.create"]
    # A resident's places never reach the audit log (it is never purged).
    assert "139.02" not in json.dumps(subscribed)

    updated = one(entries, "shelter.update")
    assert updated["subject"] == ids["shelter"]
    assert updated["request_id"] == ids["shelter.update"]
    assert updated["detail"]["before"]["status"] == "closed"
    assert updated["detail"]["after"]["status"] == "open"

    occupancy = one(entries, "shelter.occupancy")
    assert occupancy["detail"]["delta"] == 2 and occupancy["detail"]["occupancy"] == 2
    assert occupancy["request_id"] == ids["shelter.occupancy"]

    incident = one(entries, "incident.create")
    assert incident["actor"] == "officer-a" and incident["detail"]["kind"] == "fire"

    # Users created at seeding are there too, by the system, without their passwords.
    created_users = [e for e in entries if e["action"] == "user.create"]
    assert {e["detail"]["username"] for e in created_users} >= {"officer-a", "admin"}
    assert all(e["actor"] == "system" and e["remote_addr"] is None for e in created_users)
    assert "correct-horse" not in json.dumps(entries)

    # Newest first, by seq, gap-free.
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs, reverse=True) == list(range(len(seqs), 0, -1))
    assert verify(server).ok


def test_only_admins_read_the_log_and_filters_and_paging_work(server: LiveServer) -> None:
    some_writes(server)
    with server.client() as client:
        assert client.get("/api/v1/audit").status_code == 401
        refused = client.get("/api/v1/audit", headers=server.auth("officer-a"))
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"

    shelter_entries = audit_entries(server, action="shelter.")
    assert {e["action"] for e in shelter_entries} == {"shelter.update", "shelter.occupancy"}
    by_officer = audit_entries(server, actor="officer-a")
    assert by_officer and all(e["actor"] == "officer-a" for e in by_officer)
    subject = shelter_entries[0]["subject"]
    assert {e["subject"] for e in audit_entries(server, subject=subject)} == {subject}

    everything = audit_entries(server)
    first_page = audit_entries(server, limit=3)
    second_page = audit_entries(server, limit=3, before_seq=first_page[-1]["seq"])
    assert [e["seq"] for e in first_page + second_page] == [e["seq"] for e in everything[:6]]

    now = datetime.now(UTC)
    assert audit_entries(server, since=(now + timedelta(minutes=1)).isoformat()) == []
    assert len(audit_entries(server, until=(now + timedelta(minutes=1)).isoformat())) == len(
        everything
    )

    with server.client() as client:
        admin = server.auth("admin")
        for params, field in (
            ({"since": "2026-01-01T00:00:00"}, "since"),
            ({"limit": 0}, "limit"),
            ({"limit": 1001}, "limit"),
            ({"before_seq": "x"}, "before_seq"),
            ({"until": "yesterday"}, "until"),
        ):
            response = client.get("/api/v1/audit", params=params, headers=admin)
            assert response.status_code == 422, (params, response.text)
            assert response.json()["error"]["field"] == field, response.json()


def test_verify_names_the_altered_then_the_deleted_entry(server: LiveServer) -> None:
    some_writes(server)
    result = verify(server)
    assert result.ok and result.entries >= 10, result

    with server.runtime.db.session() as session:
        victim = session.execute(
            select(AuditEntry.id, AuditEntry.seq, AuditEntry.detail).where(
                AuditEntry.action == "shelter.occupancy"
            )
        ).one()
    altered = {**victim.detail, "delta": 1}
    tamper(
        server,
        "UPDATE audit_log SET detail = :detail WHERE id = :id",
        detail=json.dumps(altered),
        id=victim.id,
    )
    result = verify(server)
    assert not result.ok
    assert (result.broken_seq, result.reason) == (victim.seq, "altered"), result

    # Put it back as it was: the chain is whole again.
    tamper(
        server,
        "UPDATE audit_log SET detail = :detail WHERE id = :id",
        detail=json.dumps(victim.detail),
        id=victim.id,
    )
    assert verify(server).ok

    middle = result.entries // 2 or 1
    tamper(server, "DELETE FROM audit_log WHERE seq = :seq", seq=middle)
    result = verify(server)
    assert not result.ok
    assert (result.broken_seq, result.reason) == (middle, "deleted"), result


def test_deleting_the_newest_entries_is_caught_by_the_head(server: LiveServer) -> None:
    some_writes(server)
    last = verify(server).entries
    tamper(server, "DELETE FROM audit_log WHERE seq >= :seq", seq=last - 1)
    result = verify(server)
    assert (result.ok, result.broken_seq, result.reason) == (False, last - 1, "deleted"), result


def test_update_and_delete_through_plain_sql_are_refused(server: LiveServer) -> None:
    some_writes(server)
    for statement in (
        "UPDATE audit_log SET actor = 'someone-else'",
        "DELETE FROM audit_log",
    ):
        with (
            pytest.raises(DBAPIError, match="append-only"),
            server.runtime.db.engine.begin() as connection,
        ):
            connection.exec_driver_sql(statement)
    if server.runtime.db.dialect == "postgresql":
        with (
            pytest.raises(DBAPIError, match="append-only"),
            server.runtime.db.engine.begin() as connection,
        ):
            connection.exec_driver_sql("TRUNCATE audit_log")
    assert verify(server).ok
    assert not [e for e in audit_entries(server) if e["actor"] == "someone-else"]


def test_a_rolled_back_write_leaves_no_entry_and_no_gap(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    upgrade(settings)
    database = Database(settings.resolved_database_url)
    try:
        with pytest.raises(RuntimeError), database.session() as session:
            audit.record(session, actor=None, action="test.rolled_back", subject="x")
            raise RuntimeError("the write failed")
        with database.session() as session:
            with pytest.raises(RuntimeError), session.begin_nested():
                audit.record(session, actor=None, action="test.savepoint", subject="x")
                raise RuntimeError("one row failed")
            audit.record(session, actor="system:test", action="test.kept", subject="y")
        with database.session() as session:
            rows = session.execute(select(AuditEntry.seq, AuditEntry.action)).all()
            assert [tuple(r) for r in rows] == [(1, "test.kept")]
            assert audit.verify(session).ok
    finally:
        database.dispose()


def test_twenty_concurrent_audited_writes_make_one_gap_free_chain(
    tmp_path: Path, postgres_url: str
) -> None:
    settings = make_settings(tmp_path, postgres_url)
    upgrade(settings)
    database = Database(settings.resolved_database_url)
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with database.session() as session:
                # Each transaction holds a write of its own before the audit entry joins it.
                session.execute(text("SELECT pg_sleep(0.01)"))
                barrier.wait(timeout=30)
                audit.record(session, actor=f"system:t{n}", action="test.concurrent", subject=None)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(20)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        with database.session() as session:
            seqs = session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
            assert seqs == list(range(1, 21))
            actors = set(session.scalars(select(AuditEntry.actor)))
            assert actors == {f"system:t{n}" for n in range(20)}
            result = audit.verify(session)
            assert result.ok and result.entries == 20, result
    finally:
        database.dispose()


def kizuna_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return kizuna_command(settings.data_dir, *args, database_url=settings.database_url)


def test_cli_verify_exit_codes_and_tail(server: LiveServer) -> None:
    some_writes(server)
    # A row from before the chain existed: counted, not an error.
    with server.runtime.db.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO audit_log (at, actor, action) VALUES (:at, 'old', 'legacy.write')"),
            {"at": datetime(2026, 1, 1, tzinfo=UTC)},
        )
    entries = verify(server).entries
    listed = audit_entries(server, limit=1000)
    assert (listed[-1]["action"], listed[-1]["seq"]) == ("legacy.write", None)
    assert len(listed) == entries + 1

    intact = kizuna_cli(server.settings, "audit", "verify")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert f"audit chain intact: {entries} entries (1 before the chain)" in intact.stdout

    tail = kizuna_cli(server.settings, "audit", "tail", "-n", "3")
    assert tail.returncode == 0, tail.stdout + tail.stderr
    lines = tail.stdout.strip().splitlines()
    assert len(lines) == 3 and "incident.create" in lines[-1] and "officer-a" in lines[-1]

    tamper(server, "DELETE FROM audit_log WHERE seq = 3")
    broken = kizuna_cli(server.settings, "audit", "verify")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "broken at seq 3" in broken.stdout and "deleted" in broken.stdout
