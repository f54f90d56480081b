"""The JMA Atom feed pull: conditional GET of the feed, each new entry fetched and ingested once."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select

from integrations.jma.models import JmaFeedEntry, JmaFeedState
from integrations.jma.report import children, local, parse_xml, text
from integrations.jma.service import ingest
from integrations.jma.telegrams import is_parsed_title
from kizuna.db import Database, utcnow
from kizuna.errors import InvalidInput
from kizuna.settings import Settings

log = logging.getLogger(__name__)

ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
USER_AGENT = "kizuna-jma-poller"


@dataclass(frozen=True)
class FeedEntry:
    """One Atom entry: its id, title (the telegram type) and the telegram's address."""

    entry_id: str
    title: str
    url: str


@dataclass
class PollReport:
    """What one poll did."""

    not_modified: bool = False
    imported: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    # Entries left for the next poll (the telegram could not be fetched, or storing failed).
    retry: list[str] = field(default_factory=list)
    alerts: int = 0


def read_feed(data: bytes, max_bytes: int) -> list[FeedEntry]:
    """The entries of an Atom feed, oldest first (JMA lists the newest first)."""
    root = parse_xml(data, max_bytes, what="feed")
    if local(root) != "feed":
        raise InvalidInput(f"not an Atom feed: the root is <{local(root)}>", field="body")
    entries: list[FeedEntry] = []
    for entry in children(root, "entry"):
        url = ""
        for link in children(entry, "link"):
            if link.get("rel", "alternate") == "alternate" and link.get("href"):
                url = link.get("href", "")
                break
        entry_id = text(entry, "id")
        if not entry_id or not url:
            log.warning("jma feed: an entry without id or link is ignored: %s", entry_id or url)
            continue
        entries.append(FeedEntry(entry_id, text(entry, "title"), url))
    entries.reverse()
    return entries


def _validators(database: Database, feed_url: str) -> dict[str, str]:
    with database.session() as session:
        state = session.get(JmaFeedState, feed_url)
        headers: dict[str, str] = {}
        if state is not None and state.etag:
            headers["If-None-Match"] = state.etag
        if state is not None and state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        return headers


def _save_validators(database: Database, feed_url: str, response: httpx.Response) -> None:
    with database.session() as session:
        state = session.get(JmaFeedState, feed_url)
        if state is None:
            state = JmaFeedState(url=feed_url)
            session.add(state)
        state.etag = response.headers.get("ETag")
        state.last_modified = response.headers.get("Last-Modified")
        state.checked_at = utcnow()


def _remember(
    database: Database, entry: FeedEntry, outcome: str, detail: str | None = None
) -> None:
    with database.session() as session:
        session.add(
            JmaFeedEntry(
                entry_id=entry.entry_id[:500],
                title=entry.title[:200],
                url=entry.url[:1000],
                outcome=outcome,
                detail=detail,
            )
        )


def _fetch(client: httpx.Client, url: str, max_bytes: int) -> bytes:
    with client.stream("GET", url) as response:
        response.raise_for_status()
        body = bytearray()
        for chunk in response.iter_bytes():
            body.extend(chunk)
            if len(body) > max_bytes:
                # Keep one byte over the limit: ingest refuses it with the size in the message.
                break
        return bytes(body)


def poll_once(
    database: Database, settings: Settings, feed_url: str, client: httpx.Client
) -> PollReport:
    """Read the feed once and ingest every entry not seen before.

    Network errors on the feed itself propagate (the caller retries next interval); a telegram
    that cannot be fetched is left for the next poll, a malformed one is logged, remembered as
    refused and skipped, so one bad entry never stops the rest.
    """
    report = PollReport()
    response = client.get(feed_url, headers=_validators(database, feed_url))
    if response.status_code == 304:
        report.not_modified = True
        return report
    response.raise_for_status()
    entries = read_feed(response.content, settings.max_xml_bytes)
    with database.session() as session:
        known = set(
            session.scalars(
                select(JmaFeedEntry.entry_id).where(
                    JmaFeedEntry.entry_id.in_([entry.entry_id for entry in entries])
                )
            )
        )
    for entry in entries:
        if entry.entry_id in known:
            continue
        _poll_entry(database, settings, client, entry, report)
    if not report.retry:
        # Only a feed read to the end may be answered 304 next time: otherwise the entries
        # left for retry would never be looked at again.
        _save_validators(database, feed_url, response)
    return report


def _poll_entry(
    database: Database,
    settings: Settings,
    client: httpx.Client,
    entry: FeedEntry,
    report: PollReport,
) -> None:
    if not is_parsed_title(entry.title):
        # Not a type we turn into alerts: no need to download it.
        _remember(database, entry, "skipped", entry.title)
        report.skipped.append(entry.entry_id)
        return
    try:
        data = _fetch(client, entry.url, settings.max_xml_bytes)
    except httpx.HTTPError as exc:
        log.warning("jma feed: %s could not be fetched (%s); retrying next poll", entry.url, exc)
        report.retry.append(entry.entry_id)
        return
    try:
        with database.session() as session:
            result = ingest(session, settings, data)
            session.add(
                JmaFeedEntry(
                    entry_id=entry.entry_id[:500],
                    title=entry.title[:200],
                    url=entry.url[:1000],
                    outcome="skipped" if result.skipped else "imported",
                    detail=f"{len(result.alerts)} alerts",
                )
            )
    except InvalidInput as exc:
        log.error("jma feed: %s refused: %s (%s)", entry.url, exc.message, exc.field)
        _remember(database, entry, "refused", f"{exc.field}: {exc.message}")
        report.refused.append(entry.entry_id)
        return
    except Exception:
        log.exception("jma feed: %s failed; retrying next poll", entry.url)
        report.retry.append(entry.entry_id)
        return
    if result.skipped:
        report.skipped.append(entry.entry_id)
    else:
        report.imported.append(entry.entry_id)
        report.alerts += len(result.alerts)


def run(
    database: Database,
    settings: Settings,
    feed_url: str,
    interval: float,
    once: bool = False,
    client: httpx.Client | None = None,
    on_report: Callable[[PollReport], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PollReport | None:
    """Poll `feed_url` every `interval` seconds; never stops on a bad poll.

    With `once`, polls one time and returns its report (None when the poll failed).
    """
    own_client = client is None
    http = client or httpx.Client(
        timeout=30, follow_redirects=True, headers={"User-Agent": USER_AGENT}
    )
    try:
        while True:
            report: PollReport | None = None
            try:
                report = poll_once(database, settings, feed_url, http)
            except httpx.HTTPError as exc:
                log.warning(
                    "jma feed: %s unreachable (%s); next try in %ss", feed_url, exc, interval
                )
            except InvalidInput as exc:
                log.error("jma feed: %s is not a usable feed: %s", feed_url, exc.message)
            else:
                if on_report is not None:
                    on_report(report)
            if once:
                return report
            sleep(interval)
    finally:
        if own_client:
            http.close()
