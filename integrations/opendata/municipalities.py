"""Finding the municipality of a row that states no code: by its name, then by its position."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.opendata.values import clean
from kizuna.areas import municipality_geometry
from kizuna.models import Municipality

# JIS X 0401: the position (1-based) is the prefecture's code, the first two digits of its
# municipalities' codes.
PREFECTURES = (
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
)


class MunicipalityResolver:
    """Resolves a row's municipality from names (`七尾市`, `石川県七尾市…`) or a point.

    Names come from the imported municipality areas (`kizuna areas import`) and any extra
    table; points are placed in the imported boundaries. Nothing is guessed beyond that.
    """

    def __init__(self, names: Mapping[str, Iterable[str]], session: Session | None = None) -> None:
        self.names: dict[str, set[str]] = {}
        for name, codes in names.items():
            key = clean(name)
            if key:
                self.names.setdefault(key, set()).update(codes)
        self.session = session
        self._longest = max((len(n) for n in self.names), default=0)

    @classmethod
    def from_database(
        cls, session: Session, extra_names: Mapping[str, str] | None = None
    ) -> MunicipalityResolver:
        """A resolver using the municipality areas stored in the database."""
        names: dict[str, set[str]] = {}
        for code, name in session.execute(select(Municipality.code, Municipality.name)):
            names.setdefault(name, set()).add(code)
        for name, code in (extra_names or {}).items():
            names.setdefault(name, set()).add(code)
        return cls(names, session)

    def by_name(self, text: str) -> str | None:
        """The one municipality whose name starts `text` (after a prefecture and a 郡)."""
        value = clean(text).replace(" ", "")
        if not value or not self.names:
            return None
        prefecture = None
        for number, name in enumerate(PREFECTURES, start=1):
            if value.startswith(name):
                prefecture = f"{number:02d}"
                value = value[len(name) :]
                break
        attempts = [value]
        county = re.match(r"^(.{1,6}?郡)(.+)", value)  # 海部郡美波町 → 美波町
        if county:
            attempts.append(county.group(2))
        city_ward = re.match(r"^(.{1,5}?市)(.+?区)", value)  # 札幌市中央区 → 中央区
        if city_ward:
            attempts.append(city_ward.group(2))
        for attempt in attempts:
            for length in range(min(len(attempt), self._longest), 0, -1):
                codes = self.names.get(attempt[:length])
                if not codes:
                    continue
                if prefecture:
                    codes = {c for c in codes if c.startswith(prefecture)}
                if len(codes) == 1:
                    return next(iter(codes))
                if codes:
                    return None  # the same name in several prefectures: do not guess
        return None

    def resolve(self, text: str, lon: float | None, lat: float | None) -> str | None:
        """By name, unless the named municipality lies far from the point; else by point."""
        code = self.by_name(text)
        if code is not None and lon is not None and lat is not None and self._far(code, lon, lat):
            code = None  # a 町字 that shares its name with a distant municipality
        if code is None and lon is not None and lat is not None:
            code = self.by_point(lon, lat)
        return code

    def _far(self, code: str, lon: float, lat: float, margin: float = 0.05) -> bool:
        if self.session is None:
            return False
        area = self.session.get(Municipality, code)
        if area is None:
            return False
        return not (
            area.min_lon - margin <= lon <= area.max_lon + margin
            and area.min_lat - margin <= lat <= area.max_lat + margin
        )

    def by_point(self, lon: float, lat: float) -> str | None:
        """The imported municipality whose boundary covers the point, if exactly one does."""
        if self.session is None:
            return None
        candidates = self.session.scalars(
            select(Municipality).where(
                Municipality.min_lon <= lon,
                Municipality.max_lon >= lon,
                Municipality.min_lat <= lat,
                Municipality.max_lat >= lat,
            )
        )
        point = shapely.Point(lon, lat)
        found = [m.code for m in candidates if municipality_geometry(m).covers(point)]
        return found[0] if len(found) == 1 else None
