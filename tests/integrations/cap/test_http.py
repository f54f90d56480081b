"""CAP over HTTP against a real server: export access, import with its errors, the Atom feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from lxml import etree

from integrations.cap.xmldoc import cap_schema
from tests.integrations.cap.conftest import MAX_XML_BYTES
from tests.integrations.cap.messages import (
    CAP12,
    TRUSTED_SENDER,
    cap_message,
    info_xml,
    reference_to,
)
from tests.support import LiveServer, alert_body

CAP_TYPE = {"Content-Type": "application/cap+xml"}
ATOM = "{http://www.w3.org/2005/Atom}"


def test_an_issued_alert_is_public_cap_and_a_draft_only_its_officers_see(
    server: LiveServer,
) -> None:
    issued = server.draft_and_issue(status="Exercise")
    with server.client() as client:
        response = client.get(f"/api/v1/alerts/{issued['id']}/cap")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/cap+xml"
        root = etree.fromstring(response.content)
        assert cap_schema().validate(root)
        assert root.findtext(f"{{{CAP12}}}status") == "Exercise"
        assert root.findtext(f"{{{CAP12}}}identifier") == issued["identifier"]

        draft = client.post(
            "/api/v1/alerts", json=alert_body(), headers=server.auth("officer-a")
        ).json()
        url = f"/api/v1/alerts/{draft['id']}/cap"
        assert client.get(url).status_code == 404
        assert client.get(url, headers=server.auth("officer-b")).status_code == 404
        assert client.get(url, headers=server.auth("media")).status_code == 404
        assert client.get(url, headers=server.auth("officer-a")).status_code == 200

        missing = client.get(f"/api/v1/alerts/{issued['id']}/cap", params={"version": 2})
        assert missing.status_code == 404
        assert missing.json()["error"]["field"] == "version"
        zero = client.get(f"/api/v1/alerts/{issued['id']}/cap", params={"version": 0})
        assert zero.status_code == 422
        assert zero.json()["error"]["field"] == "version"


def test_import_is_for_media_officers_and_admins_and_answers_each_message(
    server: LiveServer,
) -> None:
    url = "/api/v1/integrations/cap"
    with server.client() as client:
        assert client.post(url, content=cap_message(), headers=CAP_TYPE).status_code == 401
        responder = {**CAP_TYPE, **server.auth("responder")}
        assert client.post(url, content=cap_message(), headers=responder).status_code == 403

        media = {**CAP_TYPE, **server.auth("media")}
        response = client.post(url, content=cap_message(identifier="h-1"), headers=media)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["imported"] == 1
        assert body["messages"][0]["outcome"] == "draft"
        assert body["messages"][0]["identifier"] == "h-1"

        original = cap_message(identifier="h-2", sender=TRUSTED_SENDER)
        update = cap_message(
            identifier="h-3",
            sender=TRUSTED_SENDER,
            msg_type="Update",
            references=[reference_to(original)],
            infos=[info_xml(headline="Flood warning, river still rising")],
        )
        officer = {"Content-Type": "application/xml", **server.auth("officer-a")}
        issued = client.post(url, content=original, headers=officer).json()["messages"][0]
        updated = client.post(url, content=update, headers=officer).json()["messages"][0]
        assert issued["outcome"] == "issued"
        assert (updated["outcome"], updated["alert_id"]) == ("updated", issued["alert_id"])
        exported = client.get(f"/api/v1/alerts/{issued['alert_id']}/cap").content
        assert b"<identifier>h-3</identifier>" in exported
        assert reference_to(original).encode() in exported


def test_bad_imports_get_a_4xx_in_the_one_error_shape_and_store_nothing(
    server: LiveServer,
) -> None:
    url = "/api/v1/integrations/cap"
    headers = {**CAP_TYPE, **server.auth("admin")}
    unclosed = cap_message().replace(b" 35.01,139.01</polygon>", b"</polygon>")
    with server.client() as client:
        bad = client.post(url, content=unclosed, headers=headers)
        assert bad.status_code == 422
        error = bad.json()["error"]
        assert error["code"] == "invalid_input"
        assert error["message"].startswith("line 2: polygon is not closed")
        assert error["field"] == "alert.info[0].area[0].polygon[0]"

        old = client.post(
            url,
            content=cap_message(namespace="urn:oasis:names:tc:emergency:cap:1.1"),
            headers=headers,
        )
        assert old.status_code == 422
        assert old.json()["error"]["message"] == "CAP 1.1 is not accepted; send CAP 1.2"

        huge = b"<alert>" + b" " * MAX_XML_BYTES + b"</alert>"
        too_large = client.post(url, content=huge, headers=headers)
        assert too_large.status_code == 413
        assert too_large.json()["error"]["code"] == "too_large"

        json_body = client.post(url, json={"alert": 1}, headers=server.auth("admin"))
        assert json_body.status_code == 415
        assert json_body.json()["error"]["field"] == "content-type"

        listed = client.get("/api/v1/alerts", headers=server.auth("admin")).json()
        assert listed == []


def test_the_atom_feed_lists_active_alerts_and_revalidates_with_etag_and_date(
    server: LiveServer,
) -> None:
    first = server.draft_and_issue()
    with server.client() as client:
        response = client.get("/feeds/cap.atom")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/atom+xml")
        etag, modified = response.headers["etag"], response.headers["last-modified"]
        feed = etree.fromstring(response.content)
        [entry] = feed.findall(f"{ATOM}entry")
        link = entry.find(f"{ATOM}link")
        assert link is not None and link.get("type") == "application/cap+xml"
        assert link.get("rel") == "alternate"
        href = str(link.get("href"))
        assert href == f"https://kizuna.example.jp/api/v1/alerts/{first['id']}/cap"
        assert entry.findtext(f"{ATOM}title") == "避難指示"
        assert entry.find(f"{ATOM}category") is not None
        # The link works without a login, like the feed.
        assert client.get(href.removeprefix("https://kizuna.example.jp")).status_code == 200

        again = client.get("/feeds/cap.atom", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.headers["etag"] == etag
        since = client.get("/feeds/cap.atom", headers={"If-Modified-Since": modified})
        assert since.status_code == 304
        long_ago = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
        older = client.get("/feeds/cap.atom", headers={"If-Modified-Since": long_ago})
        assert older.status_code == 200

        client.post(
            f"/api/v1/alerts/{first['id']}/cancel", json={}, headers=server.auth("officer-a")
        )
        changed = client.get("/feeds/cap.atom", headers={"If-None-Match": etag})
        assert changed.status_code == 200
        assert changed.headers["etag"] != etag
        assert etree.fromstring(changed.content).findall(f"{ATOM}entry") == []
