"""The Atom feed poller against a real HTTP server on 127.0.0.1: each entry is fetched once."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from alerts.models import Alert
from integrations.jma.models import JmaFeedEntry
from integrations.jma.poller import poll_once, read_feed, run
from kizuna.db import Database
from kizuna.settings import Settings
from tests.integrations.jma.factories import NANAO, code6, landslide, now_jst, retimed, serve
from tests.support import free_port

MALFORMED = b"<Report xmlns='http://xml.kishou.go.jp/jmaxml1/'><Control>"


class FeedServer:
    """A small HTTP server: fixed documents by path, ETag support, a count of every request."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.failing: set[str] = set()
        self.etags = True
        self.requests: Counter[str] = Counter()
        self.port = free_port()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests[self.path] += 1
                if self.path in server.failing:
                    self.send_error(503)
                    return
                document = server.documents.get(self.path)
                if document is None:
                    self.send_error(404)
                    return
                etag = f'"{hash(document) & 0xFFFFFFFF:x}"'
                if server.etags and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(document)))
                if server.etags:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def feed(self, entries: list[tuple[str, str, bytes]]) -> str:
        """Serve `entries` (title, path, telegram) and an Atom feed listing them, newest first."""
        xml = []
        for title, path, telegram in reversed(entries):
            self.documents[path] = telegram
            xml.append(
                f"<entry><title>{title}</title><id>{self.url(path)}#r1</id>"
                f"<updated>2024-07-25T05:16:40Z</updated><author><name>金沢地方気象台</name>"
                f'</author><link type="application/xml" href="{self.url(path)}"/>'
                f'<content type="text">{title}</content></entry>'
            )
        self.documents["/feed.xml"] = (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            'lang="ja"><title>高頻度（随時）</title><id>urn:test</id>'
            "<updated>2024-07-25T14:16:50+09:00</updated>" + "".join(xml) + "</feed>"
        ).encode()
        return self.url("/feed.xml")

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as http:
        yield http


@pytest.fixture
def noto(database: Database) -> Database:
    serve(database, [code6(NANAO)])
    return database


def alerts_in(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Alert)) or 0)


def test_a_poll_imports_the_good_entry_and_logs_and_skips_the_malformed_one(
    feed_server: FeedServer,
    noto: Database,
    jma_settings: Settings,
    client: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = feed_server.feed(
        [
            ("土砂災害警戒情報", "/data/bad.xml", MALFORMED),
            ("土砂災害警戒情報", "/data/good.xml", landslide(now_jst(), {NANAO: "発表"})),
            ("府県気象情報", "/data/info.xml", b"<never fetched/>"),
        ]
    )

    with caplog.at_level(logging.WARNING, logger="integrations.jma"):
        report = poll_once(noto, jma_settings, url, client)

    assert len(report.imported) == 1 and report.alerts == 1
    assert report.refused == [feed_server.url("/data/bad.xml#r1")]
    assert report.skipped == [feed_server.url("/data/info.xml#r1")]
    assert alerts_in(noto) == 1
    assert "/data/bad.xml refused: telegram is not well-formed XML" in caplog.text
    # A type we do not turn into alerts is not even downloaded.
    assert feed_server.requests["/data/info.xml"] == 0


def test_the_second_poll_fetches_nothing_when_the_feed_is_unchanged(
    feed_server: FeedServer, noto: Database, jma_settings: Settings, client: httpx.Client
) -> None:
    url = feed_server.feed(
        [("土砂災害警戒情報", "/data/a.xml", landslide(now_jst(), {NANAO: "発表"}))]
    )
    poll_once(noto, jma_settings, url, client)

    second = poll_once(noto, jma_settings, url, client)

    assert second.not_modified  # answered 304 to If-None-Match
    assert feed_server.requests == Counter({"/feed.xml": 2, "/data/a.xml": 1})
    assert alerts_in(noto) == 1


def test_entries_are_fetched_once_even_when_the_feed_ignores_conditional_requests(
    feed_server: FeedServer, noto: Database, jma_settings: Settings, client: httpx.Client
) -> None:
    feed_server.etags = False
    first = landslide(now_jst(-5), {NANAO: "発表"})
    url = feed_server.feed([("土砂災害警戒情報", "/data/1.xml", first)])
    poll_once(noto, jma_settings, url, client)
    second = landslide(now_jst(), {NANAO: "継続"}, serial="2")
    url = feed_server.feed(
        [("土砂災害警戒情報", "/data/1.xml", first), ("土砂災害警戒情報", "/data/2.xml", second)]
    )

    report = poll_once(noto, jma_settings, url, client)

    assert not report.not_modified
    assert report.imported == [feed_server.url("/data/2.xml#r1")]
    assert feed_server.requests["/data/1.xml"] == 1 and feed_server.requests["/data/2.xml"] == 1
    assert alerts_in(noto) == 1  # the second telegram updated the first one's alert


def test_a_telegram_that_could_not_be_fetched_is_tried_again_next_poll(
    feed_server: FeedServer, noto: Database, jma_settings: Settings, client: httpx.Client
) -> None:
    url = feed_server.feed(
        [("土砂災害警戒情報", "/data/a.xml", landslide(now_jst(), {NANAO: "発表"}))]
    )
    feed_server.failing.add("/data/a.xml")
    first = poll_once(noto, jma_settings, url, client)
    assert first.retry and alerts_in(noto) == 0

    feed_server.failing.clear()
    second = poll_once(noto, jma_settings, url, client)

    # The feed was not answered 304: the entry left for retry is looked at again.
    assert not second.not_modified and len(second.imported) == 1
    assert alerts_in(noto) == 1


def test_the_poll_loop_survives_an_unreachable_feed_and_imports_once_it_is_back(
    feed_server: FeedServer,
    noto: Database,
    jma_settings: Settings,
    client: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = feed_server.feed(
        [("土砂災害警戒情報", "/data/a.xml", landslide(now_jst(), {NANAO: "発表"}))]
    )
    feed_server.failing.add("/feed.xml")
    sleeps: list[float] = []

    class Stop(Exception):
        pass

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        feed_server.failing.clear()  # the network comes back during the pause
        if len(sleeps) == 2:
            raise Stop

    with caplog.at_level(logging.WARNING, logger="integrations.jma"), pytest.raises(Stop):
        run(noto, jma_settings, url, interval=60, client=client, sleep=sleep)

    assert sleeps == [60, 60]
    assert "unreachable" in caplog.text
    assert alerts_in(noto) == 1


def test_a_single_poll_of_a_dead_address_reports_failure(
    noto: Database, jma_settings: Settings
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/feed.xml"

    assert run(noto, jma_settings, dead, interval=1, once=True) is None


def test_the_real_jma_feed_lists_its_entries_oldest_first(shared_data: Path) -> None:
    data = (shared_data / "jma/feeds/jma_extra_atom_20240725.xml").read_bytes()

    entries = read_feed(data, 5_000_000)

    assert len(entries) == 350
    assert entries[-1].title == "気象特別警報・警報・注意報"
    assert entries[-1].url.endswith("20240725051641_0_VPWW53_260000.xml")
    assert all(entry.url.startswith("https://www.data.jma.go.jp/") for entry in entries)


def test_a_feed_of_shared_samples_imports_what_it_can_and_remembers_every_entry(
    shared_data: Path,
    feed_server: FeedServer,
    database: Database,
    jma_settings: Settings,
    client: httpx.Client,
) -> None:
    now = datetime.now(UTC)
    samples = shared_data / "jma/samples"
    landslide_sample = retimed(samples / "VXWW50/17_04_01_250630_VXWW50.xml", now)
    warning_sample = retimed(samples / "VPWW53/15_14_01_170216_VPWW53.xml", now)
    serve(database, [code6("1420600"), code6("1310400")])  # 小田原市, 新宿区
    url = feed_server.feed(
        [
            ("土砂災害警戒情報", "/data/VXWW50.xml", landslide_sample),
            ("気象特別警報・警報・注意報", "/data/VPWW53.xml", warning_sample),
            ("気象特別警報・警報・注意報", "/data/broken.xml", warning_sample[:500]),
            (
                "噴火速報",
                "/data/VFVO56.xml",
                (samples / "VFVO56/67_01_01_140927_VFVO56.xml").read_bytes(),
            ),
        ]
    )

    report = poll_once(database, jma_settings, url, client)

    assert (len(report.imported), len(report.refused), len(report.skipped)) == (2, 1, 1)
    assert report.alerts == 2  # 小田原市's 土砂災害警戒情報, 新宿区's 大雨特別警報
    with database.session() as session:
        rows = session.execute(select(JmaFeedEntry.url, JmaFeedEntry.outcome)).all()
    outcomes = {url: outcome for url, outcome in rows}
    assert outcomes[feed_server.url("/data/broken.xml")] == "refused"
    assert outcomes[feed_server.url("/data/VFVO56.xml")] == "skipped"
