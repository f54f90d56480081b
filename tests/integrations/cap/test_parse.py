"""Reading CAP without a server: what is taken from a message, and what is refused and why."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree
from shapely.geometry import Point, shape
from signxml import SignatureMethod, XMLSigner

from integrations.cap.mapping import content_of, imported_alert, to_incoming
from integrations.cap.parse import read_messages
from integrations.cap.render import render_alert
from integrations.xml import TooLarge
from kizuna.errors import InvalidInput
from tests.integrations.cap.messages import (
    CAP12,
    area_xml,
    cap_message,
    info_xml,
    reference_to,
)
from tests.support import CITY_A

LIMIT = 100_000


def read_one(data: bytes) -> dict[str, object]:
    messages = read_messages(data, LIMIT)
    assert len(messages) == 1
    return messages[0].alert.model_dump()


def refusal(data: bytes, limit: int = LIMIT, base_dir: Path | None = None) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        read_messages(data, limit, base_dir)
    return caught.value


def test_a_message_is_read_element_by_element() -> None:
    alert = read_one(
        cap_message(
            identifier="JP-1",
            status="Exercise",
            infos=[
                info_xml(language="ja", headline="避難指示"),
                info_xml(language="en", headline="Evacuate"),
            ],
        )
    )
    assert alert["identifier"] == "JP-1"
    assert alert["status"] == "Exercise"
    assert alert["msg_type"] == "Alert"
    assert alert["scope"] == "Public"
    infos = alert["infos"]
    assert isinstance(infos, list)
    assert [info["headline"] for info in infos] == ["避難指示", "Evacuate"]
    assert infos[0]["areas"][0]["polygons"][0][0] == (35.01, 139.01)


def test_polygons_become_geojson_in_lon_lat_order() -> None:
    message = read_messages(cap_message(), LIMIT)[0]
    content = content_of(message.alert, lambda code: False)
    geometry = shape(content["area"]["geometry"])
    # CAP writes 35.01,139.01 (lat,lon); GeoJSON must say [139.01, 35.01].
    assert geometry.bounds == pytest.approx((139.01, 35.01, 139.04, 35.09))
    assert geometry.contains(Point(139.02, 35.05))


def test_circles_keep_their_centre_and_radius_in_km() -> None:
    message = read_messages(
        cap_message(infos=[info_xml(areas=[area_xml(polygons=[], circles=["35.05,139.02 2.5"])])]),
        LIMIT,
    )[0]
    content = content_of(message.alert, lambda code: False)
    assert content["area"] == {"circles": [{"lon": 139.02, "lat": 35.05, "radius_km": 2.5}]}


def test_a_jis_x_0402_geocode_we_know_becomes_a_municipality_code() -> None:
    geocodes = [("JIS X 0402", CITY_A[:5]), ("JIS X 0402", "131016"), ("SAME", "006109")]
    message = read_messages(
        cap_message(infos=[info_xml(areas=[area_xml(polygons=[], geocodes=geocodes)])]), LIMIT
    )[0]
    incoming = to_incoming(message, lambda code: code == CITY_A)
    # 5 digits get their check digit; a code we hold no boundary for stays in the payload only.
    assert incoming.content["area"] == {"municipality_codes": [CITY_A]}
    assert incoming.municipality_code == CITY_A
    kept = incoming.payload["cap"]["infos"][0]["areas"][0]["geocodes"]
    assert [g["value"] for g in kept] == [CITY_A[:5], "131016", "006109"]


def test_a_missing_language_means_en_us_and_the_evacuation_level_is_read() -> None:
    message = read_messages(
        cap_message(infos=[info_xml(language=None, parameters=[("EvacuationLevel", "4")])]),
        LIMIT,
    )[0]
    content = content_of(message.alert, lambda code: False)
    assert content["info"][0]["language"] == "en-US"
    assert content["evacuation_level"] == 4
    assert content["event"] == "Flood"
    assert content["category"] == "Met"


def test_an_update_names_what_it_changes_and_may_not_omit_it() -> None:
    original = cap_message(identifier="a-1")
    update = cap_message(identifier="a-2", msg_type="Update", references=[reference_to(original)])
    assert read_one(update)["references"] == [reference_to(original)]
    error = refusal(cap_message(identifier="a-3", msg_type="Cancel"))
    assert "must name the messages it changes" in error.message
    assert error.field == "alert.references"


def test_an_export_of_an_import_gives_the_same_message_back() -> None:
    original = cap_message(
        infos=[
            info_xml(language="ja", headline="  避難指示  ", parameters=[("警戒レベル", "4")]),
            info_xml(language="en", areas=[area_xml(circles=["35.05,139.02 0"])]),
        ],
        note="drill",
    )
    message = read_messages(original, LIMIT)[0]
    incoming = to_incoming(message, lambda code: False)
    restored = imported_alert(incoming.origin())
    assert restored is not None
    again = read_messages(render_alert(restored), LIMIT)[0]
    assert again.alert == message.alert


UNCLOSED = "35.01,139.01 35.01,139.04 35.09,139.04 35.09,139.01"

REFUSED: list[tuple[str, bytes, str, str | None]] = [
    (
        "a polygon that is not closed",
        cap_message(infos=[info_xml(areas=[area_xml(polygons=[UNCLOSED])])]),
        "line 2: polygon is not closed: first point 35.01,139.01 differs from last 35.09,139.01",
        "alert.info[0].area[0].polygon[0]",
    ),
    (
        "a polygon of three points",
        cap_message(infos=[info_xml(areas=[area_xml(polygons=["1,1 2,2 1,1"])])]),
        "a polygon needs at least 4 points",
        "alert.info[0].area[0].polygon[0]",
    ),
    (
        "a latitude beyond the pole",
        cap_message(infos=[info_xml(areas=[area_xml(polygons=["95,1 1,2 2,2 95,1"])])]),
        "latitude 95.0 is outside [-90, 90]",
        "alert.info[0].area[0].polygon[0]",
    ),
    (
        "a circle without a radius",
        cap_message(infos=[info_xml(areas=[area_xml(polygons=[], circles=["35,139"])])]),
        "circle '35,139' is not 'lat,lon radius'",
        "alert.info[0].area[0].circle[0]",
    ),
    (
        "an unknown namespace",
        cap_message(namespace="urn:oasis:names:tc:emergency:alerts:1.2"),
        "unknown namespace urn:oasis:names:tc:emergency:alerts:1.2 on <alert>",
        "alert",
    ),
    (
        "CAP 1.1",
        cap_message(namespace="urn:oasis:names:tc:emergency:cap:1.1"),
        "CAP 1.1 is not accepted; send CAP 1.2",
        "alert",
    ),
    (
        "a missing required element",
        cap_message().replace(b"<scope>Public</scope>", b""),
        "not valid CAP 1.2: line 2: Element 'info': This element is not expected. "
        "Expected is one of ( source, scope ).",
        "alert.info[0]",
    ),
    (
        "a time with Z instead of an offset",
        cap_message(sent=datetime(2030, 1, 1, tzinfo=UTC)).replace(b"+00:00</sent>", b"Z</sent>"),
        "Element 'sent': [facet 'pattern']",
        "alert.sent",
    ),
    (
        "malformed XML",
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">\n<identifier>x</alert>',
        "malformed XML: line 2, column",
        "body",
    ),
    ("an empty body", b"  \n", "body is empty", "body"),
    (
        "a document that is no CAP",
        b"<html><body>hello</body></html>",
        "not a CAP message: the root element html",
        "root",
    ),
]


@pytest.mark.parametrize(
    ("data", "message", "field"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_bad_messages_are_refused_naming_line_and_element(
    data: bytes, message: str, field: str | None
) -> None:
    error = refusal(data)
    assert error.status_code == 422
    assert message in error.message
    assert error.field == field


def test_a_billion_laughs_bomb_is_refused_without_expanding() -> None:
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {b} "{("&" + a + ";") * 10}">'
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    bomb = f'<?xml version="1.0"?><!DOCTYPE alert [{entities}]><alert>&i;</alert>'.encode()
    error = refusal(bomb)
    assert error.status_code == 422
    assert "DOCTYPE" in error.message or "amplification" in error.message


def test_external_entities_are_never_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x SYSTEM "file://{secret}">]>'
        f'<alert xmlns="{CAP12}"><identifier>&x;</identifier></alert>'
    ).encode()
    error = refusal(xxe)
    assert "DOCTYPE declarations are not accepted" in error.message
    assert "TOP-SECRET" not in error.message


def test_a_body_over_the_limit_is_refused_before_parsing() -> None:
    with pytest.raises(TooLarge) as caught:
        read_messages(b"<" + b"x" * 2000 + b"/>", 1024)
    assert caught.value.status_code == 413


# ---------------------------------------------------------------------------------------------
# Signatures


def signed(message: bytes) -> bytes:
    """The message with an enveloped ECDSA signature and a self-signed certificate in KeyInfo."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test signer")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    signer = XMLSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256,
        c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
    )
    root = signer.sign(
        etree.fromstring(message),
        key=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert=certificate.public_bytes(serialization.Encoding.PEM).decode(),
    )
    return bytes(etree.tostring(root))


def test_a_signed_message_verifies_with_the_certificate_it_carries() -> None:
    message = read_messages(signed(cap_message()), LIMIT)[0]
    assert message.signature is not None
    assert message.signature["verified"] is True
    assert message.signature["certificate_subject"] == "CN=test signer"


def test_a_message_changed_after_signing_is_refused() -> None:
    tampered = signed(cap_message()).replace(b"Flood warning", b"All clear")
    error = refusal(tampered)
    assert "the XML signature does not verify" in error.message
    assert error.field == "alert.Signature"


def test_a_signature_with_a_forged_value_is_refused() -> None:
    data = signed(cap_message())
    root = etree.fromstring(data)
    value = root.find(".//{http://www.w3.org/2000/09/xmldsig#}SignatureValue")
    assert value is not None and value.text
    raw = bytearray(base64.b64decode(value.text))
    raw[10] ^= 0xFF
    value.text = base64.b64encode(bytes(raw)).decode()
    assert "does not verify" in refusal(etree.tostring(root)).message


# ---------------------------------------------------------------------------------------------
# Containers


def test_the_non_standard_alerts_list_gives_every_alert() -> None:
    one = cap_message(identifier="one").split(b"?>", 1)[1]
    two = cap_message(identifier="two").split(b"?>", 1)[1]
    wrapper = f'<alerts xmlns="{CAP12}">'.encode() + one + two + b"</alerts>"
    messages = read_messages(wrapper, LIMIT)
    assert [m.alert.identifier for m in messages] == ["one", "two"]
    assert {m.container for m in messages} == {"alerts"}


def test_an_edxl_de_distribution_gives_every_embedded_alert() -> None:
    alerts = b"".join(
        b"<contentObject><xmlContent><embeddedXMLContent>"
        + cap_message(identifier=name).split(b"?>", 1)[1]
        + b"</embeddedXMLContent></xmlContent></contentObject>"
        for name in ("e-1", "e-2")
    )
    distribution = (
        b'<EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:1.0">'
        + alerts
        + b"</EDXLDistribution>"
    )
    messages = read_messages(distribution, LIMIT)
    assert [m.alert.identifier for m in messages] == ["e-1", "e-2"]


def atom_feed(*entries: str) -> bytes:
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:test</id><title>t</title>'
        + "".join(f"<entry><id>urn:entry:{i}</id>{e}</entry>" for i, e in enumerate(entries))
        + "</feed>"
    ).encode()


def test_an_atom_feed_gives_embedded_alerts_and_links_beside_the_feed_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "cap").mkdir()
    (tmp_path / "cap" / "linked.xml").write_bytes(cap_message(identifier="linked"))
    embedded = cap_message(identifier="embedded").split(b"?>", 1)[1].decode()
    feed = atom_feed(
        f'<content type="application/cap+xml">{embedded}</content>',
        '<link rel="alternate" type="application/cap+xml" href="cap/linked.xml"/>',
    )
    messages = read_messages(feed, LIMIT, base_dir=tmp_path)
    assert [m.alert.identifier for m in messages] == ["embedded", "linked"]
    assert messages[1].source["link"] == "cap/linked.xml"


def test_a_feed_link_is_not_followed_without_a_folder_nor_ever_over_the_network(
    tmp_path: Path,
) -> None:
    local = atom_feed('<link type="application/cap+xml" href="cap/linked.xml"/>')
    assert "which is not fetched" in refusal(local).message
    remote = atom_feed('<link type="application/cap+xml" href="http://127.0.0.1:9/x.cap"/>')
    assert "which is not fetched" in refusal(remote, base_dir=tmp_path).message


def test_a_feed_that_links_a_missing_file_says_which() -> None:
    feed = atom_feed('<link type="application/cap+xml" href="nowhere.cap"/>')
    error = refusal(feed, base_dir=Path("/nonexistent-folder"))
    assert "links nowhere.cap, which is not a file next to the feed" in error.message
    assert error.field == "feed.entry[0].link"


def test_one_bad_alert_in_a_container_refuses_the_whole_container() -> None:
    good = cap_message(identifier="good").split(b"?>", 1)[1]
    bad = cap_message(identifier="bad").split(b"?>", 1)[1].replace(b"<scope>Public</scope>", b"")
    error = refusal(f'<alerts xmlns="{CAP12}">'.encode() + good + bad + b"</alerts>")
    assert "not valid CAP 1.2" in error.message
