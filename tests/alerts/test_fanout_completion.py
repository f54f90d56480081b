"""A fan-out is marked complete exactly when its last chunk is done, even with racing workers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select, update

from alerts.models import AlertVersion, FanoutChunk
from alerts.tasks import deliver_chunk, reconcile
from tests.support import LiveServer, wait_for


def issued_version(server: LiveServer, residents: int) -> str:
    for i in range(residents):
        server.subscribe([{"lon": 139.001 + i * 0.0004, "lat": 35.02}])
    issued = server.draft_and_issue()
    assert issued["recipients"] == residents

    def completed() -> bool:
        with server.runtime.db.session() as session:
            return session.scalar(select(AlertVersion.fanout_completed_at)) is not None

    wait_for(completed)
    with server.runtime.db.session() as session:
        return str(session.scalar(select(AlertVersion.id)))


def reopen(server: LiveServer, version_id: str) -> None:
    with server.runtime.db.session() as session:
        session.execute(update(FanoutChunk).values(done_at=None))
        session.execute(update(AlertVersion).values(fanout_completed_at=None))


def test_workers_finishing_the_last_chunks_together_still_mark_completion(
    server: LiveServer,
) -> None:
    server.runtime.settings.fanout_chunk_size = 2
    version_id = issued_version(server, 24)
    with server.runtime.db.session() as session:
        chunks = session.scalar(select(AlertVersion.chunks_total))
    assert chunks == 12
    for _ in range(5):
        reopen(server, version_id)
        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(lambda i: deliver_chunk(server.runtime, version_id, i), range(12)))
        with server.runtime.db.session() as session:
            assert session.scalar(select(AlertVersion.fanout_completed_at)) is not None


def test_the_reconciler_completes_a_version_whose_chunks_are_all_done(server: LiveServer) -> None:
    server.runtime.settings.fanout_grace_s = 0.01
    issued_version(server, 3)
    with server.runtime.db.session() as session:
        session.execute(update(AlertVersion).values(fanout_completed_at=None))
    assert reconcile(server.runtime) == 0  # nothing to resubmit
    with server.runtime.db.session() as session:
        assert session.scalar(select(AlertVersion.fanout_completed_at)) is not None
