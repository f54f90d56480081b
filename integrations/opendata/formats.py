"""Recognising and reading published shelter files (GSI, 自治体標準, other CSV layouts, GeoJSON)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import Any

from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from gis import normalize_municipality_code
from integrations.opendata import values
from integrations.opendata.values import KINDS, clean, column_key
from kizuna.errors import InvalidInput
from shelters.records import RowProblem, ShelterRecord, SnapshotRecord

# What `--map SOURCE_COLUMN=FIELD` may name.
FIELDS = (
    "source_id",
    "name",
    "address",
    "lat",
    "lon",
    "x",
    "y",
    "capacity",
    "phone",
    "kind",
    "hazards",
    "municipality_code",
    "municipality",
    "occupancy",
    "at",
    "status",
)
# Column names each field is recognised by, most specific first (compared after NFKC).
ALIASES: dict[str, tuple[str, ...]] = {
    "source_id": ("共通ID", "ID", "施設ID", "避難所ID", "避難場所ID", "施設番号", "管理番号"),
    "name": (
        "施設・場所名",
        "名称",
        "施設名",
        "施設名称",
        "避難所名",
        "避難場所名",
        "避難所名称",
        "タイトル",
        "name",
    ),
    "address": ("住所", "所在地_連結表記", "所在地", "所在地住所", "address"),
    "lat": ("緯度", "緯度(世界測地系)", "lat", "latitude"),
    "lon": ("経度", "経度(世界測地系)", "lon", "lng", "long", "longitude"),
    "x": ("x", "X座標", "x座標"),
    "y": ("y", "Y座標", "y座標"),
    "capacity": ("想定収容人数", "収容人数", "収容可能人数", "収容人員", "定員", "capacity"),
    "phone": ("電話番号", "連絡先", "電話", "phone"),
    "kind": ("分類", "種別", "施設の種類", "避難所種別", "kind"),
    "hazards": ("災害種別", "対象となる災害の分類", "対象となる災害", "対象災害", "hazards"),
    "municipality_code": (
        "全国地方公共団体コード",
        "所在地_全国地方公共団体コード",
        "地方公共団体コード",
        "市区町村コード",
        "団体コード",
    ),
    "municipality": (
        "市町村",
        "市区町村",
        "市町村名",
        "市区町村名",
        "所在地_市区町村",
        "都道府県名及び市町村名",
    ),
    "prefecture": ("所在地_都道府県", "都道府県", "都道府県名"),
    "occupancy": ("人数", "避難人数", "避難者数", "避難者人数", "現在の避難者数", "occupancy"),
    "at": ("時点", "日時", "日付", "更新日時", "集計日時", "at"),
    "status": ("開設状況", "開設状態", "status"),
}
ADDRESS_PARTS = (
    "所在地_都道府県",
    "所在地_市区町村",
    "所在地_町字",
    "所在地_番地以下",
    "建物名等(方書)",
)
WELFARE_TEXT = ("受入対象者", "指定福祉避難所の受入対象者")
WELFARE_FLAG = ("福祉避難所", "指定福祉避難所")
MAX_HEADER_SEARCH = 5  # a title line or two may precede the header
JAPAN_LON = (122.0, 154.5)
JAPAN_LAT = (20.0, 46.0)


@dataclass
class ImportOptions:
    """What the person importing says about the file (all optional)."""

    municipality: str | None = None  # 6-digit code for rows that do not state their own
    column_map: dict[str, str] = field(default_factory=dict)  # source column -> field
    kind: str | None = None  # every row is of this kind
    crs: str | None = None  # CRS of X/Y columns or of a GeoJSON without a `crs` member
    filename: str | None = None


def make_options(
    municipality: str | None = None,
    maps: Iterable[str] = (),
    kind: str | None = None,
    crs: str | None = None,
    filename: str | None = None,
) -> ImportOptions:
    """Validated import options; a bad code, mapping, kind or CRS is refused naming the option."""
    code = None
    if municipality:
        try:
            code = normalize_municipality_code(municipality)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="municipality") from None
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"unknown kind {kind!r}; one of {', '.join(KINDS)}", field="kind")
    if crs:
        _crs(crs, "crs")
    return ImportOptions(code, parse_map(maps), kind, crs or None, filename)


def parse_map(specs: Iterable[str]) -> dict[str, str]:
    """`SOURCE_COLUMN=FIELD` pairs; FIELD must be one of FIELDS."""
    mapping: dict[str, str] = {}
    for spec in specs:
        source, sep, target = spec.rpartition("=")
        source, target = source.strip(), target.strip()
        if not sep or not source or not target:
            raise InvalidInput(f"--map wants SOURCE_COLUMN=FIELD, got {spec!r}", field="map")
        if target not in FIELDS:
            raise InvalidInput(
                f"--map {spec!r}: unknown field {target!r}; one of {', '.join(FIELDS)}",
                field="map",
            )
        mapping[source] = target
    return mapping


@dataclass
class ParsedRow:
    """One row of the file: the shelter and/or status snapshot it describes, with its problems."""

    line: int
    shelter: ShelterRecord | None = None
    snapshot: SnapshotRecord | None = None
    shelter_problems: list[RowProblem] = field(default_factory=list)
    snapshot_problems: list[RowProblem] = field(default_factory=list)
    # Text naming the municipality (prefecture + 市区町村, else the address), for a name lookup.
    place_text: str = ""


@dataclass
class ParsedFile:
    layout: str  # gsi | standard | generic | mapped
    container: str  # csv | geojson
    encoding: str
    kind: str  # the kind rows take unless they say otherwise
    status: bool  # rows carry evacuee counts: a published status snapshot
    rows: list[ParsedRow]
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def format(self) -> str:
        return f"{self.layout}_{self.container}"


@dataclass
class _Record:
    line: int
    values: dict[str, str]
    point: tuple[float, float] | None = None  # GeoJSON geometry, in the file's CRS
    problem: str | None = None  # the row as a whole cannot be read
    geometry_problem: str | None = None  # only its position cannot


@dataclass
class _Table:
    columns: list[str]
    records: list[_Record]
    container: str
    crs: CRS | None = None
    file_code: str | None = None


@dataclass
class _Columns:
    by_field: dict[str, str]
    hazard_flags: dict[str, str]
    welfare_text: str | None
    welfare_flag: str | None
    occupancy_time: datetime | None
    address_parts: list[str]


def parse(data: bytes, options: ImportOptions, snapshots_only: bool = False) -> ParsedFile:
    """Decode, recognise and read a file into shelter records and status snapshots.

    A file that cannot be read at all (encoding, no recognisable header, broken JSON) raises
    InvalidInput; a bad row is reported by line and the others are kept.
    """
    if not data.strip():
        raise InvalidInput("the file is empty", field="file")
    decoded = values.decode(data)
    text = decoded.text.lstrip("\ufeff")
    table = _read_geojson(text) if text.lstrip().startswith("{") else None
    if table is None:
        try:
            table, columns = _read_csv(text, options, snapshots_only)
        except InvalidInput:
            _refuse_if_euc_jp(data, decoded.encoding, options, snapshots_only)
            raise
    else:
        columns = _recognise(table.columns, options, snapshots_only, geometry=True)
    crs = _position_crs(table, columns, options)
    layout = _layout(table.columns, options)
    status = "occupancy" in columns.by_field
    if snapshots_only and not status:
        raise InvalidInput(
            "no evacuee count column (人数, 避難人数, …): this is a registry, not a status "
            "snapshot; import it with `import`",
            field="file",
        )
    kind = _default_kind(options, columns, layout, status)
    reader = _RowReader(table, columns, options, layout, kind, crs, snapshots_only or status)
    rows = [reader.read(record) for record in table.records]
    return ParsedFile(layout, table.container, decoded.encoding, kind, status, rows)


# --------------------------------------------------------------------------------------------
# Containers


def _read_csv(text: str, options: ImportOptions, snapshots_only: bool) -> tuple[_Table, _Columns]:
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInput(f"the CSV cannot be read at line {start}: {exc}", field="file") from None
    candidates = [(line, cells) for line, cells in rows if any(c.strip() for c in cells)]
    if not candidates:
        raise InvalidInput("the file has no rows", field="file")
    failure: InvalidInput | None = None
    for index, (_line, cells) in enumerate(candidates[:MAX_HEADER_SEARCH]):
        header = [c.strip().lstrip("\ufeff") for c in cells]
        try:
            columns = _recognise(header, options, snapshots_only, geometry=False)
        except InvalidInput as exc:
            failure = failure or exc
            continue
        records: list[_Record] = []
        for row_line, row in candidates[index + 1 :]:
            record = _Record(row_line, {})
            extra = [c for c in row[len(header) :] if c.strip()]
            if extra:
                record.problem = (
                    f"the row has {len(row)} values but the header has {len(header)} columns "
                    "(an unquoted comma?)"
                )
            record.values = {name: value for name, value in zip(header, row, strict=False) if name}
            records.append(record)
        return _Table([h for h in header if h], records, "csv"), columns
    assert failure is not None  # every candidate row was refused; say why the first was
    raise failure


def _refuse_if_euc_jp(
    data: bytes, encoding: str, options: ImportOptions, snapshots_only: bool
) -> None:
    """EUC-JP decodes as CP932 mojibake; if EUC-JP would have read the header, say so."""
    if encoding not in ("shift_jis", "cp932"):
        return
    try:
        _read_csv(data.decode("euc_jp"), options, snapshots_only)
    except (UnicodeDecodeError, InvalidInput):
        return
    raise InvalidInput(
        "the file looks EUC-JP encoded; save it as UTF-8 or Shift_JIS",
        field="file",
        code="bad_encoding",
    )


def _read_geojson(text: str) -> _Table:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"the file is not valid JSON: {exc}", field="file") from None
    kinds = ("FeatureCollection", "Feature")
    if not isinstance(document, dict) or document.get("type") not in kinds:
        raise InvalidInput("a JSON file must be a GeoJSON FeatureCollection", field="file")
    features = document.get("features") if document["type"] == "FeatureCollection" else [document]
    if not isinstance(features, list):
        raise InvalidInput("the FeatureCollection has no `features` list", field="file")
    crs = None
    declared = document.get("crs")
    if declared is not None:
        properties = declared.get("properties") if isinstance(declared, dict) else None
        name = properties.get("name") if isinstance(properties, dict) else None
        if not isinstance(name, str):
            raise InvalidInput("the `crs` member has no properties.name", field="file")
        crs = _crs(name, "file")
    columns: dict[str, None] = {}
    records: list[_Record] = []
    for number, feature in enumerate(features, start=1):
        record = _Record(number, {})
        records.append(record)
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            record.problem = "not a GeoJSON Feature"
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            record.problem = "`properties` is not an object"
            continue
        for key, value in properties.items():
            columns.setdefault(str(key))
            record.values[str(key)] = "" if value is None else str(value)
        record.point, record.geometry_problem = _point(feature.get("geometry"))
    return _Table(list(columns), records, "geojson", crs, _code_or_none(document.get("name")))


def _point(geometry: Any) -> tuple[tuple[float, float] | None, str | None]:
    if geometry is None:
        return None, None
    if not isinstance(geometry, dict):
        return None, "`geometry` is not an object"
    if geometry.get("type") != "Point":
        return None, f"the geometry is a {geometry.get('type')}; a shelter is a Point"
    coordinates = geometry.get("coordinates")
    if (
        not isinstance(coordinates, list)
        or len(coordinates) < 2
        or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coordinates[:2])
    ):
        return None, "the Point has no numeric coordinates"
    return (float(coordinates[0]), float(coordinates[1])), None


# --------------------------------------------------------------------------------------------
# Recognising the header


def _recognise(
    header: list[str], options: ImportOptions, snapshots_only: bool, geometry: bool
) -> _Columns:
    keys: dict[str, str] = {}
    for name in header:
        if name:
            keys.setdefault(column_key(name), name)
    by_field: dict[str, str] = {}
    for source, target in options.column_map.items():
        found = keys.get(column_key(source))
        if found is None:
            raise InvalidInput(
                f"--map names the column {source!r}, which the file does not have "
                f"(columns: {_listing(header)})",
                field="map",
            )
        by_field[target] = found
    mapped = set(by_field.values())
    for target, aliases in ALIASES.items():
        if target in by_field:
            continue
        for alias in aliases:
            found = keys.get(column_key(alias))
            if found is not None and found not in mapped:
                by_field[target] = found
                break
    occupancy_time = None
    if "occupancy" not in by_field:
        # 七尾市 names the count column after its time: 人数_令和6年1月9日午後6時時点.
        for key, name in keys.items():
            if key.startswith("人数_") and name not in mapped:
                by_field["occupancy"] = name
                occupancy_time = values.japanese_time(key)
                break
    used = set(by_field.values())
    hazard_flags = {
        name: hazard
        for name in header
        if name and name not in used and (hazard := values.hazard_column(name))
    }
    welfare_text = next((keys[k] for k in map(column_key, WELFARE_TEXT) if k in keys), None)
    welfare_flag = next((keys[k] for k in map(column_key, WELFARE_FLAG) if k in keys), None)
    parts = [keys[k] for k in map(column_key, ADDRESS_PARTS) if k in keys]
    columns = _Columns(by_field, hazard_flags, welfare_text, welfare_flag, occupancy_time, parts)
    _require(columns, header, snapshots_only, geometry)
    return columns


def _require(columns: _Columns, header: list[str], snapshots_only: bool, geometry: bool) -> None:
    fields = columns.by_field
    hint = "map your columns with --map COLUMN=FIELD (fields: " + ", ".join(FIELDS) + ")"
    if snapshots_only:
        if "name" not in fields and "source_id" not in fields:
            raise InvalidInput(
                "no recognisable header: no name or ID column (名称, 避難所名, 施設・場所名, ID, "
                f"…) among {_listing(header)}; {hint}",
                field="file",
            )
        if "occupancy" not in fields:
            raise InvalidInput(
                "no evacuee count column (人数, 避難人数, …): this is a registry, not a status "
                "snapshot; import it with `import`",
                field="file",
            )
        return
    if "name" not in fields:
        raise InvalidInput(
            "no recognisable header: no name column (施設・場所名, 名称, 避難所名, タイトル, …) "
            f"among {_listing(header)}; {hint}",
            field="file",
        )
    has_degrees = "lat" in fields and "lon" in fields
    has_plane = "x" in fields and "y" in fields
    if not (has_degrees or has_plane or geometry):
        raise InvalidInput(
            f"no position columns: the file names shelters ({fields['name']}) but has no "
            f"緯度/経度 (nor X/Y with a declared CRS) among {_listing(header)}; {hint}",
            field="file",
        )


def _listing(header: list[str]) -> str:
    shown = [h for h in header if h][:20]
    more = len([h for h in header if h]) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "") if shown else "(none)"


def _layout(header: list[str], options: ImportOptions) -> str:
    keys = {column_key(h) for h in header}
    if column_key("施設・場所名") in keys:
        return "gsi"  # 国土地理院 指定緊急避難場所・指定避難所データ
    standard = ("全国地方公共団体コード", "所在地_全国地方公共団体コード", "所在地_連結表記")
    if any(column_key(k) in keys for k in standard) or any(
        column_key(h).startswith("災害種別_") for h in header
    ):
        return "standard"  # 自治体標準オープンデータセット
    return "mapped" if options.column_map else "generic"


def _default_kind(options: ImportOptions, columns: _Columns, layout: str, status: bool) -> str:
    if options.kind:
        return options.kind
    name = PurePath(options.filename or "").name.lower()
    if name.startswith("emergency_") or any(w in name for w in ("kinkyu", "緊急避難場所")):
        return "evacuation_site"
    if name.startswith("evacuation_") or any(w in name for w in ("hinanjo", "避難所")):
        return "shelter"
    if columns.hazard_flags:
        return "evacuation_site"  # only the 指定緊急避難場所 lists flag hazards
    if layout == "gsi":
        return "shelter"
    name_column = column_key(columns.by_field.get("name", ""))
    if "避難場所" in name_column:
        return "evacuation_site"
    if "避難所" in name_column or status:
        return "shelter"
    return "evacuation_site"


# --------------------------------------------------------------------------------------------
# Positions


def _crs(text: str, option: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise InvalidInput(f"unknown CRS {text!r}: {exc}", field=option) from None


def _position_crs(table: _Table, columns: _Columns, options: ImportOptions) -> CRS | None:
    declared = _crs(options.crs, "crs") if options.crs else None
    if table.crs is not None and declared is not None and not table.crs.equals(declared):
        raise InvalidInput(
            f"the file declares {table.crs.to_string()} but --crs says {declared.to_string()}",
            field="crs",
        )
    crs = table.crs or declared
    fields = columns.by_field
    uses_plane = table.container == "csv" and "x" in fields and "y" in fields
    uses_plane = uses_plane and not ("lat" in fields and "lon" in fields)
    if uses_plane and crs is None:
        raise InvalidInput(
            f"X/Y columns ({fields['x']}, {fields['y']}) need their CRS: give --crs, e.g. "
            "EPSG:6675",
            field="crs",
        )
    return crs


class _Positioner:
    """Turns a file's coordinates into WGS84 lon/lat (pyproj, always x=easting, y=northing)."""

    def __init__(self, crs: CRS | None) -> None:
        self.crs = crs
        self.transformer = None
        self.area: tuple[float, float, float, float] | None = None
        if crs is not None and not crs.is_geographic:
            self.transformer = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
            area = crs.area_of_use
            if area is not None:
                self.area = (area.west, area.south, area.east, area.north)

    def lon_lat(self, x: float, y: float) -> tuple[float, float, str | None]:
        if self.transformer is None:
            return x, y, None
        lon, lat = self.transformer.transform(x, y)
        if not self._in_area(lon, lat):
            # Japanese surveyors call the northing X; a swapped pair leaves the CRS's zone.
            swapped_lon, swapped_lat = self.transformer.transform(y, x)
            if self._in_area(swapped_lon, swapped_lat):
                return swapped_lon, swapped_lat, "X and Y look swapped (X = northing); swapped"
        return lon, lat, None

    def _in_area(self, lon: float, lat: float, margin: float = 0.1) -> bool:
        if self.area is None:
            return _in_japan(lon, lat)
        west, south, east, north = self.area
        return west - margin <= lon <= east + margin and south - margin <= lat <= north + margin


def _in_japan(lon: float, lat: float) -> bool:
    return JAPAN_LON[0] <= lon <= JAPAN_LON[1] and JAPAN_LAT[0] <= lat <= JAPAN_LAT[1]


# --------------------------------------------------------------------------------------------
# Rows


def _code_or_none(value: Any) -> str | None:
    text = clean(value).removesuffix(".0")
    if not re.fullmatch(r"\d{5,6}", text):
        return None
    try:
        return normalize_municipality_code(text)
    except ValueError:
        return None


def file_code(filename: str | None) -> str | None:
    """A municipality code in a GSI-style file name: `emergency_172022_nanao`, `26343_ide_…`."""
    name = PurePath(filename or "").name
    match = re.match(r"(?:emergency|evacuation)_(\d{5,6})(?!\d)", name) or re.match(
        r"(\d{5,6})_", name
    )
    return _code_or_none(match.group(1)) if match else None


def derived_source_id(name: str, address: str, lon: float | None, lat: float | None) -> str:
    """A stable ID for files without one: a hash of name and address (or position)."""
    if address:
        where = "".join(address.split())
    else:
        where = f"{lon:.4f},{lat:.4f}" if lon is not None and lat is not None else ""
    digest = hashlib.sha1(f"{''.join(name.split())}|{where}".encode()).hexdigest()
    return f"h-{digest[:20]}"


class _RowReader:
    def __init__(
        self,
        table: _Table,
        columns: _Columns,
        options: ImportOptions,
        layout: str,
        kind: str,
        crs: CRS | None,
        snapshots: bool,
    ) -> None:
        self.columns = columns
        self.options = options
        self.layout = layout
        self.kind = kind
        self.positioner = _Positioner(crs)
        self.snapshots = snapshots
        self.file_code = table.file_code or file_code(options.filename)
        self.file_time = values.japanese_time(PurePath(options.filename or "").stem)

    def get(self, record: _Record, target: str) -> str:
        column = self.columns.by_field.get(target)
        return clean(record.values.get(column, "")) if column else ""

    def read(self, record: _Record) -> ParsedRow:
        row = ParsedRow(record.line)
        warnings: list[str] = []
        name = self.get(record, "name")
        address = self.get(record, "address") or "".join(
            clean(record.values.get(part, "")) for part in self.columns.address_parts
        )
        prefecture = self.get(record, "prefecture")
        municipality = self.get(record, "municipality")
        row.place_text = (prefecture + municipality) if municipality else address
        kind = self._kind(record, warnings)
        hazards = self._hazards(record, warnings)
        capacity_text = self.get(record, "capacity")
        capacity = values.capacity(capacity_text, kind)
        if not capacity.understood:
            warnings.append(f"capacity {capacity_text!r} not understood; left empty")
        phone = self.get(record, "phone")
        if len(phone) > 50:
            warnings.append("phone longer than 50 characters; cut")
            phone = phone[:50]
        lon: float | None = None
        lat: float | None = None
        position_error: str | None = record.geometry_problem
        if position_error is None:
            lon, lat, position_error = self._position(record, warnings)
        source_id = self.get(record, "source_id")
        if not source_id and name:
            source_id = derived_source_id(name, address, lon, lat)
        code, code_error = self._code(record)
        # Problems of the whole row, then those only a shelter (not a snapshot) has.
        common = [p for p in (record.problem, code_error) if p is not None]
        if len(source_id) > 100:
            common.append(f"ID {source_id[:20]!r}… is longer than 100 characters")
        shelter_errors = [*common]
        if not name:
            shelter_errors.append(
                f"the name ({self.columns.by_field.get('name', 'name')}) is empty"
            )
        if position_error:
            shelter_errors.append(position_error)
        if shelter_errors:
            row.shelter_problems = [RowProblem(record.line, e) for e in shelter_errors]
        else:
            assert lon is not None and lat is not None
            row.shelter = ShelterRecord(
                source_id=source_id,
                name=name,
                lon=lon,
                lat=lat,
                municipality_code=code or "",
                kind=kind,
                hazards=hazards,
                address=address or None,
                capacity=capacity.value,
                phone=phone or None,
                line=record.line,
            )
            row.shelter_problems = [RowProblem(record.line, w, warning=True) for w in warnings]
        if self.snapshots:
            self._snapshot(record, row, source_id, name, code, capacity.value, common)
        return row

    def _snapshot(
        self,
        record: _Record,
        row: ParsedRow,
        source_id: str,
        name: str,
        code: str | None,
        capacity: int | None,
        common: list[str],
    ) -> None:
        # A snapshot needs no position, so a row without one still records its count.
        errors = [*common]
        if not source_id and not name:
            errors.append("neither an ID nor a name to match the shelter by")
        occupancy_text = self.get(record, "occupancy")
        occupancy = values.integer(occupancy_text)
        if occupancy is None:
            column = self.columns.by_field["occupancy"]
            errors.append(f"{column} {occupancy_text!r} is not a whole number of evacuees")
        at_text = self.get(record, "at")
        at = values.japanese_time(at_text) if at_text else None
        at = at or self.columns.occupancy_time or self.file_time
        if at is None:
            errors.append(
                f"no time for the count: {at_text!r} is not a date"
                if at_text
                else "no time for the count (時点/日付 column, 人数_<time> header or file name)"
            )
        status_text = self.get(record, "status")
        status = values.status_from_text(status_text) if status_text else "open"
        if status is None:
            errors.append(f"opening state {status_text!r} not understood (開設, 閉鎖, 満員)")
        if errors:
            row.snapshot_problems = [RowProblem(record.line, e) for e in errors]
            return
        assert at is not None and occupancy is not None and status is not None
        row.snapshot = SnapshotRecord(
            at=at,
            occupancy=occupancy,
            municipality_code=code or "",
            source_id=source_id or None,
            name=name or None,
            status=status,
            capacity=capacity,
            line=record.line,
        )

    def _code(self, record: _Record) -> tuple[str | None, str | None]:
        text = self.get(record, "municipality_code").removesuffix(".0")
        if text:
            try:
                return normalize_municipality_code(text), None
            except ValueError as exc:
                column = self.columns.by_field["municipality_code"]
                return None, f"{column}: {exc}"
        if self.layout == "gsi":
            # 共通ID embeds the 5-digit code: E17202 00001 201.
            match = re.match(r"[A-Za-z]?(\d{5})", self.get(record, "source_id"))
            if match and (code := _code_or_none(match.group(1))):
                return code, None
        return self.file_code, None

    def _kind(self, record: _Record, warnings: list[str]) -> str:
        if self.options.kind:
            return self.options.kind
        text = self.get(record, "kind")
        if text:
            kind = values.kind_from_text(text)
            if kind is not None:
                return kind
            warnings.append(f"kind {text!r} not understood; taken as {self.kind}")
        if self.kind == "shelter":
            welfare = self.columns.welfare_text
            # GSI states 受入対象者 only for designated welfare shelters (指定福祉避難所).
            if welfare and clean(record.values.get(welfare, "")):
                return "welfare_shelter"
            flag_column = self.columns.welfare_flag
            if flag_column and values.flag(record.values.get(flag_column, "")):
                return "welfare_shelter"
        return self.kind

    def _hazards(self, record: _Record, warnings: list[str]) -> list[str]:
        found: set[str] = set()
        for column, hazard in self.columns.hazard_flags.items():
            raw = record.values.get(column, "")
            flagged = values.flag(raw)
            if flagged is None:
                warnings.append(f"{column} {clean(raw)!r} not understood as a flag; taken as no")
            elif flagged:
                found.add(hazard)
        text = self.get(record, "hazards")
        if text:
            listed = values.hazards_from_text(text)
            found.update(listed.hazards)
            if listed.unknown:
                warnings.append(f"hazards not understood, ignored: {', '.join(listed.unknown)}")
        return sorted(found)

    def _position(
        self, record: _Record, warnings: list[str]
    ) -> tuple[float | None, float | None, str | None]:
        fields = self.columns.by_field
        if record.point is not None:
            x, y = record.point
            source = "the geometry"
        elif "lat" in fields and "lon" in fields:
            lat = values.coordinate(self.get(record, "lat"))
            lon = values.coordinate(self.get(record, "lon"))
            if lat is None or lon is None:
                bad = fields["lat"] if lat is None else fields["lon"]
                shown = self.get(record, "lat" if lat is None else "lon")
                return (
                    None,
                    None,
                    (f"{bad} is empty" if not shown else f"{bad} {shown!r} is not a number"),
                )
            if not _in_japan(lon, lat) and _in_japan(lat, lon):
                warnings.append(f"{fields['lat']} and {fields['lon']} look swapped; swapped")
                lat, lon = lon, lat
            return lon, lat, None
        elif "x" in fields and "y" in fields:
            px = values.coordinate(self.get(record, "x"))
            py = values.coordinate(self.get(record, "y"))
            if px is None or py is None:
                bad = fields["x"] if px is None else fields["y"]
                return None, None, f"{bad} is empty or not a number"
            x, y, source = px, py, f"{fields['x']}/{fields['y']}"
        else:
            return None, None, "no position: no geometry and no 緯度/経度"
        if self.positioner.transformer is None and not (-180 <= x <= 180 and -90 <= y <= 90):
            return (
                None,
                None,
                (
                    f"{source} ({x:g}, {y:g}) is not in degrees: projected metres? declare the CRS "
                    "(--crs EPSG:6675 or a GeoJSON `crs` member)"
                ),
            )
        lon, lat, note = self.positioner.lon_lat(x, y)
        if note:
            warnings.append(note)
        if lon != lon or lat != lat or abs(lon) == float("inf") or abs(lat) == float("inf"):
            return None, None, f"{source} ({x:g}, {y:g}) cannot be converted from {self.crs_name}"
        return float(lon), float(lat), None

    @property
    def crs_name(self) -> str:
        crs = self.positioner.crs
        return crs.to_string() if crs is not None else "WGS84"
