"""Small L-Alert messages of our own, shaped like the official v3/v4 samples, for tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from alerts import system_user
from integrations.lalert.service import LAlertImport, import_xml
from kizuna.db import Database
from kizuna.settings import Settings
from tests.support import CITY_A

V3 = {
    "report": "http://xml.publiccommons.ne.jp/pcxml1/3",
    "ib": "http://xml.publiccommons.ne.jp/pcxml1/informationBasis3/",
    "eb": "http://xml.publiccommons.ne.jp/pcxml1/elementBasis3/",
    "ev": "http://xml.publiccommons.ne.jp/pcxml1/body/evacuation3",
    "sh": "http://xml.publiccommons.ne.jp/pcxml1/body/shelter3",
}


def _time(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


@dataclass
class DetailSpec:
    sort: str = "避難指示"
    issue_or_lift: str = "発令"
    # (lat, lon, radius_km, 町丁目 code or None)
    areas: list[tuple[float, float, float, str | None]] = field(
        default_factory=lambda: [(35.05, 139.02, 0.0, "999980001001")]
    )


def evacuation_message(
    document_id: str | None = None,
    revision: int = 1,
    previous: int | None = None,
    details: list[DetailSpec] | None = None,
    code: str = CITY_A,
    sender: str | None = "lalert-node.example",
    status: str = "Actual",
    control_status: str | None = None,
    sent: datetime | None = None,
    valid_for: timedelta = timedelta(hours=6),
    title: str = "Atown 避難勧告・指示情報",
    text: str = "川の水位が上昇しています",
    complementary: str = "直ちに避難してください",
    soap: bool = False,
) -> bytes:
    """A v3 EvacuationOrder message (prefixes as in the LGDIS template), bare or in SOAP."""
    document_id = document_id or str(uuid.uuid4())
    sent = sent or datetime.now(UTC)
    details = details if details is not None else [DetailSpec()]
    previous_xml = (
        f"<commons:previousDocumentRevision>{previous}</commons:previousDocumentRevision>"
        if previous is not None
        else ""
    )
    sender_xml = f"<edxlde:senderID>{sender}</edxlde:senderID>" if sender else ""
    control_status_xml = (
        f"<pcxml:Status>{control_status}</pcxml:Status>" if control_status is not None else ""
    )
    detail_xml = ""
    for detail in details:
        areas = "".join(
            f"""<pcx_ev:Area><pcx_eb:Location>
                  <edxlde:circle>{lat},{lon},{radius}</edxlde:circle>
                  <commons:areaName>地区{index}</commons:areaName>
                  <commons:jisX0402>{code}</commons:jisX0402>
                  {
                f"<commons:ooAzaTyouTyouMokuCode>{chome}</commons:ooAzaTyouTyouMokuCode>"
                if chome
                else ""
            }
                </pcx_eb:Location>
                <pcx_ev:DateTime>{_time(sent)}</pcx_ev:DateTime>
                <pcx_ev:HeadCount>120</pcx_ev:HeadCount><pcx_ev:Households>45</pcx_ev:Households>
              </pcx_ev:Area>"""
            for index, (lat, lon, radius, chome) in enumerate(detail.areas)
        )
        detail_xml += f"""<pcx_ev:Detail><pcx_ev:Sort>{detail.sort}</pcx_ev:Sort>
            <pcx_ev:IssueOrLift>{detail.issue_or_lift}</pcx_ev:IssueOrLift>
            <pcx_ev:Areas>{areas}</pcx_ev:Areas></pcx_ev:Detail>"""
    message = f"""<edxlde:EDXLDistribution xmlns:edxlde="urn:oasis:names:tc:emergency:EDXL:DE:1.0"
    xmlns:commons="http://xml.publiccommons.ne.jp/xml/edxl/" xmlns:pcxml="{V3["report"]}"
    xmlns:pcx_ib="{V3["ib"]}" xmlns:pcx_eb="{V3["eb"]}" xmlns:pcx_ev="{V3["ev"]}">
  <edxlde:distributionID>{uuid.uuid4()}</edxlde:distributionID>
  {sender_xml}
  <edxlde:dateTimeSent>{_time(sent)}</edxlde:dateTimeSent>
  <edxlde:distributionStatus>{status}</edxlde:distributionStatus>
  <edxlde:distributionType>{"Report" if revision == 1 else "Update"}</edxlde:distributionType>
  <commons:targetArea><commons:areaName>Atown</commons:areaName>
    <commons:jisX0402>{code}</commons:jisX0402></commons:targetArea>
  <commons:contentObject>
    <edxlde:xmlContent><edxlde:embeddedXMLContent>
      <Report xmlns="{V3["report"]}">
        <Control><Title>EvacuationOrder</Title>{control_status_xml}</Control>
        <pcx_ib:Head>
          <pcx_ib:Title>{escape(title)}</pcx_ib:Title>
          <pcx_ib:CreateDateTime>{_time(sent)}</pcx_ib:CreateDateTime>
          <pcx_ib:ValidDateTime>{_time(sent + valid_for)}</pcx_ib:ValidDateTime>
          <commons:documentRevision>{revision}</commons:documentRevision>
          {previous_xml}
          <commons:documentID>{document_id}</commons:documentID>
          <pcx_ib:Headline><pcx_ib:Text>{escape(text)}</pcx_ib:Text></pcx_ib:Headline>
        </pcx_ib:Head>
        <pcx_ev:EvacuationOrder>
          <pcx_eb:Disaster><pcx_eb:DisasterName>洪水</pcx_eb:DisasterName></pcx_eb:Disaster>
          <pcx_ev:ComplementaryInfo>{escape(complementary)}</pcx_ev:ComplementaryInfo>
          {detail_xml}
        </pcx_ev:EvacuationOrder>
      </Report>
    </edxlde:embeddedXMLContent></edxlde:xmlContent>
    {previous_xml}
    <commons:documentRevision>{revision}</commons:documentRevision>
    <commons:documentID>{document_id}</commons:documentID>
    <commons:category>EvacuationOrder</commons:category>
  </commons:contentObject>
</edxlde:EDXLDistribution>"""
    if soap:
        message = (
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            '<pcsoap:publish xmlns:pcsoap="http://soap.publiccommons.ne.jp/"><pcsoap:message>'
            f"{message}</pcsoap:message></pcsoap:publish></soap:Body></soap:Envelope>"
        )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + message).encode()


def shelter_message(code: str = CITY_A) -> bytes:
    """A 避難所情報 (Shelter) message, shaped like the LGDIS shelter template, filled in."""
    now = _time(datetime.now(UTC))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<edxlde:EDXLDistribution xmlns:edxlde="urn:oasis:names:tc:emergency:EDXL:DE:1.0"
    xmlns:commons="http://xml.publiccommons.ne.jp/xml/edxl/" xmlns:pcx_ib="{V3["ib"]}"
    xmlns:pcx_eb="{V3["eb"]}" xmlns:pcx_sh="{V3["sh"]}">
  <edxlde:distributionID>{uuid.uuid4()}</edxlde:distributionID>
  <edxlde:senderID>lalert-node.example</edxlde:senderID>
  <edxlde:dateTimeSent>{now}</edxlde:dateTimeSent>
  <edxlde:distributionStatus>Actual</edxlde:distributionStatus>
  <edxlde:distributionType>Report</edxlde:distributionType>
  <commons:targetArea><commons:jisX0402>{code}</commons:jisX0402></commons:targetArea>
  <commons:contentObject>
    <edxlde:xmlContent><edxlde:embeddedXMLContent>
      <Report xmlns="{V3["report"]}">
        <Control><Title>Shelter</Title></Control>
        <pcx_ib:Head><pcx_ib:Title>Atown 避難所情報</pcx_ib:Title></pcx_ib:Head>
        <pcx_sh:Shelter><pcx_sh:Detail><pcx_sh:Type>指定避難所</pcx_sh:Type>
          <pcx_sh:Sort>開設</pcx_sh:Sort><pcx_sh:HeadCount>30</pcx_sh:HeadCount>
        </pcx_sh:Detail></pcx_sh:Shelter>
      </Report>
    </edxlde:embeddedXMLContent></edxlde:xmlContent>
    <commons:documentRevision>1</commons:documentRevision>
    <commons:documentID>{uuid.uuid4()}</commons:documentID>
    <commons:category>Shelter</commons:category>
  </commons:contentObject>
</edxlde:EDXLDistribution>""".encode()


def run_import(
    database: Database, settings: Settings, data: bytes, force_trusted: bool = False
) -> LAlertImport:
    """Import one message the way the CLI does: its own transaction, as system-lalert."""
    with database.session() as session:
        actor = system_user(session, "lalert")
        return import_xml(session, settings, actor, data, force_trusted=force_trusted)
