"""CAP 1.2 as plain data: every element of an alert message, as parsed and as exported."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"
CAP11 = "urn:oasis:names:tc:emergency:cap:1.1"
CAP10 = "http://www.incident.com/cap/1.0"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
ATOM = "http://www.w3.org/2005/Atom"
EDXL_DE = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"
MEDIA_TYPE = "application/cap+xml"
# CAP says a missing <language> means this.
DEFAULT_LANGUAGE = "en-US"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ValuePair(Model):
    """<eventCode>, <parameter> or <geocode>: a named value."""

    value_name: str
    value: str


class Resource(Model):
    """<resource>: a file that goes with the info (a map, an audio message)."""

    resource_desc: str
    mime_type: str
    size: str | None = None
    uri: str | None = None
    deref_uri: str | None = None
    digest: str | None = None


class Circle(Model):
    """<circle>: a centre and a radius in kilometres."""

    lat: float
    lon: float
    radius_km: float


class Area(Model):
    """<area>: the union of its polygons, circles and geocodes."""

    area_desc: str
    # Each polygon is its closed ring of (lat, lon) pairs, in CAP's own order.
    polygons: list[list[tuple[float, float]]] = Field(default_factory=list)
    circles: list[Circle] = Field(default_factory=list)
    geocodes: list[ValuePair] = Field(default_factory=list)
    altitude: str | None = None
    ceiling: str | None = None


class Info(Model):
    """<info>: the alert in one language (times kept as the sender wrote them)."""

    language: str | None = None
    categories: list[str]
    event: str
    response_types: list[str] = Field(default_factory=list)
    urgency: str
    severity: str
    certainty: str
    audience: str | None = None
    event_codes: list[ValuePair] = Field(default_factory=list)
    effective: str | None = None
    onset: str | None = None
    expires: str | None = None
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    parameters: list[ValuePair] = Field(default_factory=list)
    resources: list[Resource] = Field(default_factory=list)
    areas: list[Area] = Field(default_factory=list)


class CapAlert(Model):
    """<alert>: one CAP 1.2 message."""

    identifier: str
    sender: str
    sent: str
    status: str
    msg_type: str
    source: str | None = None
    scope: str
    restriction: str | None = None
    addresses: str | None = None
    codes: list[str] = Field(default_factory=list)
    note: str | None = None
    # "sender,identifier,sent" entries (CAP writes them space-separated).
    references: list[str] = Field(default_factory=list)
    incidents: str | None = None
    infos: list[Info] = Field(default_factory=list)
