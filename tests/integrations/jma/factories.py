"""Small JMA telegrams of our own making, and helpers to serve municipalities and shift dates."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shapely.geometry import box

from gis import normalize_municipality_code
from kizuna.areas import upsert_municipality
from kizuna.db import Database

JST = "+09:00"
# JMA 7-digit 市町村等 codes of the municipalities the tests use.
NANAO, WAJIMA, SUZU = "1720200", "1720400", "1720500"
NAMES = {NANAO: "七尾市", WAJIMA: "輪島市", SUZU: "珠洲市", "1420600": "小田原市"}


def code6(jma_code: str) -> str:
    """The 全国地方公共団体コード of a JMA 7-digit code (the rule under test, spelled out)."""
    return normalize_municipality_code(jma_code[:5])


def now_jst(offset_minutes: int = 0) -> str:
    """A JMA ReportDateTime (JST, whole minutes) near now."""
    moment = datetime.now(UTC) + timedelta(minutes=offset_minutes, hours=9)
    return moment.strftime("%Y-%m-%dT%H:%M:00") + JST


def serve(database: Database, codes: list[str]) -> None:
    """Give these 6-digit municipality codes a boundary, so alerts are made for them."""
    with database.session() as session:
        for index, code in enumerate(codes):
            lon = 136.0 + (index % 50) * 0.02
            lat = 30.0 + (index // 50) * 0.02
            upsert_municipality(session, code, f"m{code}", box(lon, lat, lon + 0.01, lat + 0.01))


def envelope(
    title: str,
    head_title: str,
    report_time: str,
    *,
    info_type: str = "発表",
    event_id: str = "",
    serial: str = "",
    status: str = "通常",
    office: str = "金沢地方気象台",
    headline: str = "",
    body: str = "",
    valid_until: str = "",
) -> bytes:
    """A telegram around `body` (Body's inner XML)."""
    valid = f"<ValidDateTime>{valid_until}</ValidDateTime>" if valid_until else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Report xmlns="http://xml.kishou.go.jp/jmaxml1/" xmlns:jmx="http://xml.kishou.go.jp/jmaxml1/">
<Control><Title>{title}</Title><DateTime>2024-01-01T00:00:00Z</DateTime>
<Status>{status}</Status><EditorialOffice>{office}</EditorialOffice>
<PublishingOffice>{office}</PublishingOffice></Control>
<Head xmlns="http://xml.kishou.go.jp/jmaxml1/informationBasis1/">
<Title>{head_title}</Title><ReportDateTime>{report_time}</ReportDateTime>
<TargetDateTime>{report_time}</TargetDateTime>{valid}<EventID>{event_id}</EventID>
<InfoType>{info_type}</InfoType><Serial>{serial}</Serial><InfoKind>test</InfoKind>
<InfoKindVersion>1.0_0</InfoKindVersion><Headline><Text>{headline}</Text></Headline></Head>
<Body xmlns="http://xml.kishou.go.jp/jmaxml1/body/meteorology1/">{body}</Body>
</Report>""".encode()


def landslide(
    report_time: str,
    statuses: dict[str, str],
    *,
    serial: str = "1",
    info_type: str = "発表",
    headline: str = "土砂災害の危険度が高まっています。",
) -> bytes:
    """A 土砂災害警戒情報 (VXWW50) with one Item per JMA code: status 発表/継続/解除/なし."""
    items = "".join(
        f"<Item><Kind><Name>{'警戒' if status in ('発表', '継続') else status}</Name>"
        f"<Code>3</Code><Status>{status}</Status></Kind>"
        f"<Area><Name>{NAMES.get(code, code)}</Name><Code>{code}</Code></Area></Item>"
        for code, status in statuses.items()
    )
    return envelope(
        "土砂災害警戒情報",
        "石川県土砂災害警戒情報",
        report_time,
        info_type=info_type,
        event_id="石川県土砂災害警戒情報",
        serial=serial,
        headline=headline,
        body=f"<TargetArea><Name>石川県</Name><Code>170000</Code></TargetArea>"
        f'<Warning type="土砂災害警戒情報">{items}</Warning>',
    )


def weather(
    report_time: str,
    kinds: dict[str, list[tuple[str, str]]],
    *,
    title: str = "気象特別警報・警報・注意報",
    info_type: str = "発表",
) -> bytes:
    """A VPWW53 (or, with `title`, VPWW54) naming (warning, status) pairs per JMA code."""
    items = []
    for code, pairs in kinds.items():
        kind_xml = (
            "".join(
                f"<Kind><Name>{name}</Name><Status>{status}</Status></Kind>"
                for name, status in pairs
            )
            or "<Kind><Status>発表警報・注意報はなし</Status></Kind>"
        )
        items.append(
            f"<Item>{kind_xml}<Area><Name>{NAMES.get(code, code)}</Name>"
            f"<Code>{code}</Code></Area></Item>"
        )
    return envelope(
        title,
        "石川県気象警報・注意報",
        report_time,
        info_type=info_type,
        headline="能登では、土砂災害に警戒してください。",
        body=f'<Warning type="気象警報・注意報（市町村等）">{"".join(items)}</Warning>',
    )


def volcano_flash(report_time: str) -> bytes:
    """A 噴火速報 (VFVO56): a type we do not turn into alerts."""
    return envelope("噴火速報", "火山名　御嶽山　噴火速報", report_time, headline="噴火が発生")


def retimed(path: Path, report_time: datetime) -> bytes:
    """A shared sample with its ReportDateTime and TargetDateTime moved to `report_time`, so
    the alerts it makes are still in force (and can be issued, updated and cancelled)."""
    data = path.read_bytes().decode("utf-8")
    stamp = report_time.astimezone(UTC).replace(microsecond=0) + timedelta(hours=9)
    value = stamp.strftime("%Y-%m-%dT%H:%M:%S") + JST
    for element in ("ReportDateTime", "TargetDateTime"):
        data = re.sub(rf"<{element}>[^<]*</{element}>", f"<{element}>{value}</{element}>", data)
    data = re.sub(r"<ValidDateTime>[^<]*</ValidDateTime>", "", data)
    return data.encode("utf-8")


def quake_detail(report_time: str, cities: dict[str, str], *, event_id: str) -> bytes:
    """A 震源・震度に関する情報 (VXSE53) with each city's MaxInt ("3", "5-", ...)."""
    city_xml = "".join(
        f"<City><Name>{NAMES.get(code, code)}</Name><Code>{code}</Code>"
        f"<MaxInt>{intensity}</MaxInt></City>"
        for code, intensity in cities.items()
    )
    body = (
        "<Earthquake><Hypocenter><Area><Name>能登半島沖</Name></Area></Hypocenter>"
        '<jmx_eb:Magnitude xmlns:jmx_eb="http://xml.kishou.go.jp/jmaxml1/elementBasis1/" '
        'type="Mj" description="Ｍ５．９">5.9</jmx_eb:Magnitude></Earthquake>'
        "<Intensity><Observation><Pref><Name>県</Name><Code>17</Code>"
        f"<Area><Name>地域</Name><Code>390</Code>{city_xml}</Area></Pref></Observation></Intensity>"
    )
    return envelope(
        "震源・震度に関する情報",
        "震源・震度情報",
        report_time,
        event_id=event_id,
        serial="1",
        office="気象庁本庁",
        headline="地震がありました。",
        body=body,
    )


def intensity_flash(report_time: str, regions: dict[str, str], *, event_id: str) -> bytes:
    """A 震度速報 (VXSE51) naming 地震情報／細分区域 codes with their MaxInt."""
    areas = "".join(
        f"<Area><Name>region {code}</Name><Code>{code}</Code><MaxInt>{intensity}</MaxInt></Area>"
        for code, intensity in regions.items()
    )
    body = f"<Intensity><Observation><Pref><Name>県</Name><Code>17</Code>{areas}</Pref>"
    return envelope(
        "震度速報",
        "震度速報",
        report_time,
        event_id=event_id,
        office="気象庁本庁",
        headline="強い揺れを感じました。",
        body=body + "</Observation></Intensity>",
    )


def flood(report_time: str, kind: str, cities: list[str], *, serial: str) -> bytes:
    """A 指定河川洪水予報 (VXKOii) of river section 860101 with its 浸水想定地区 cities."""
    areas = "".join(
        f'<Area codeType="水位観測所"><Name>観測所</Name><City>{NAMES.get(code, code)}</City>'
        f"<CityCode>{code}</CityCode></Area>"
        for code in cities
    )
    body = (
        '<Warning type="指定河川洪水予報"><Item><Kind><Property><Type>主文</Type>'
        f"<Text>{kind}の主文</Text></Property></Kind></Item>"
        "<Item><Kind><Name>浸水想定地区</Name><Status>対象地域</Status></Kind>"
        f"<Areas>{areas}</Areas></Item></Warning>"
    )
    data = envelope(
        "指定河川洪水予報",
        f"能登川{kind}",
        report_time,
        event_id="860101",
        serial=serial,
        headline=f"能登川では{kind}",
        body=body,
    )
    information = (
        '<Information type="指定河川洪水予報（河川）"><Item><Kind>'
        f"<Name>{kind}</Name></Kind></Item></Information>"
    )
    return data.replace(b"</Headline>", information.encode() + b"</Headline>")
