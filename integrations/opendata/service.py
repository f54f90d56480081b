"""Importing a published shelter file: parse, find municipalities, authorise, store, report."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from integrations.opendata import formats
from integrations.opendata.formats import ImportOptions, ParsedRow
from integrations.opendata.municipalities import MunicipalityResolver
from kizuna import audit
from kizuna.errors import Forbidden
from kizuna.models import User
from shelters import import_snapshots, upsert_shelters
from shelters.records import ImportReport, RowProblem, ShelterRecord, SnapshotRecord

CHUNK = 200  # records per service call: the progress bar moves, memory stays flat
Progress = Callable[[int, int], None]


@dataclass
class FileImport(ImportReport):
    """What an import did: the shelters service's counts and problems, and the file's form."""

    format: str = ""
    encoding: str = ""
    history_unchanged: int = 0

    def out(self) -> dict[str, Any]:
        """The answer of `POST /api/v1/shelters/import`."""
        return {
            "format": self.format,
            "encoding": self.encoding,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "history_points": self.history_points,
            "history_unchanged": self.history_unchanged,
            "errors": [{"line": p.line, "reason": p.reason} for p in self.errors],
            "warnings": [{"line": p.line, "reason": p.reason} for p in self.warnings],
        }


def import_file(
    session: Session,
    data: bytes,
    options: ImportOptions,
    actor: str,
    *,
    snapshots_only: bool = False,
    allowed_codes: Collection[str] | None = None,
    actor_id: str | None = None,
    extra_names: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> FileImport:
    """Import a shelter file (or, with `snapshots_only`, only its status snapshots).

    Registry files become shelters, created or updated in place by (municipality, source ID).
    Status files (rows with evacuee counts) become shelters and history points, or only
    history points with `snapshots_only`. `allowed_codes` limits an officer to their
    municipalities: a file with none of theirs is refused (403), other rows are row errors.
    The file is refused whole (InvalidInput) when it cannot be read; bad rows are reported.
    """
    parsed = formats.parse(data, options, snapshots_only)
    resolver = MunicipalityResolver.from_database(session, extra_names)
    result = FileImport(format=parsed.format, encoding=parsed.encoding)
    problems: list[RowProblem] = list(parsed.problems)
    with_snapshots = snapshots_only or parsed.status
    shelters: list[ShelterRecord] = []
    snapshots: list[SnapshotRecord] = []
    for row in parsed.rows:
        wanted = row.snapshot if snapshots_only else row.shelter
        problems.extend(row.snapshot_problems if snapshots_only else row.shelter_problems)
        if wanted is None:
            continue
        code = _municipality(row, resolver, options)
        if code is None:
            problems.append(RowProblem(row.line, _unresolved(row)))
            continue
        if row.shelter is not None:
            row.shelter.municipality_code = code
            if not snapshots_only:
                shelters.append(row.shelter)
        if with_snapshots:
            if not snapshots_only:
                problems.extend(row.snapshot_problems)
            if row.snapshot is not None:
                row.snapshot.municipality_code = code
                snapshots.append(row.snapshot)
    if allowed_codes is not None:
        shelters, snapshots = _authorise(shelters, snapshots, set(allowed_codes), problems)
    if parsed.status and not snapshots_only:
        shelters = _latest_per_shelter(shelters, snapshots)
    else:
        shelters = _first_per_source_id(shelters, problems)
    total = len(shelters) + len(snapshots)
    done = 0
    for start in range(0, len(shelters), CHUNK):
        chunk = shelters[start : start + CHUNK]
        _add(result, upsert_shelters(session, chunk, actor), problems)
        done += len(chunk)
        if progress:
            progress(done, total)
    for start in range(0, len(snapshots), CHUNK):
        chunk_ = snapshots[start : start + CHUNK]
        report = import_snapshots(session, chunk_, actor)
        result.history_points += report.history_points
        result.history_unchanged += report.unchanged
        problems.extend(report.problems)
        done += len(chunk_)
        if progress:
            progress(done, total)
    result.problems = _sorted_unique(problems)
    user = session.get(User, actor_id) if actor_id else None
    audit.record(
        session,
        actor=user or actor,
        action="shelters.import_snapshots" if snapshots_only else "shelters.import",
        subject=(options.filename or "upload")[:100],
        **{k: v for k, v in result.out().items() if k not in ("errors", "warnings")},
        errors=len(result.errors),
        warnings=len(result.warnings),
    )
    session.flush()
    return result


def _municipality(
    row: ParsedRow, resolver: MunicipalityResolver, options: ImportOptions
) -> str | None:
    """The row's own code, else its name or position among imported areas, else --municipality."""
    record = row.shelter or row.snapshot
    if record is not None and record.municipality_code:
        return record.municipality_code
    lon = row.shelter.lon if row.shelter else None
    lat = row.shelter.lat if row.shelter else None
    return resolver.resolve(row.place_text, lon, lat) or options.municipality


def _unresolved(row: ParsedRow) -> str:
    where = f" ({row.place_text})" if row.place_text else ""
    return (
        f"no municipality code: the row states none and its place{where} matches no imported "
        "municipality area; give --municipality (?municipality=) or import the areas first"
    )


def _authorise(
    shelters: list[ShelterRecord],
    snapshots: list[SnapshotRecord],
    allowed: set[str],
    problems: list[RowProblem],
) -> tuple[list[ShelterRecord], list[SnapshotRecord]]:
    codes = {r.municipality_code for r in shelters} | {s.municipality_code for s in snapshots}
    if codes and not codes & allowed:
        raise Forbidden(
            f"the file holds shelters of {', '.join(sorted(codes))}; you act for "
            f"{', '.join(sorted(allowed)) or 'no municipality'}",
            field="municipality",
        )
    refused: set[int] = set()
    records: list[ShelterRecord | SnapshotRecord] = [*shelters, *snapshots]
    for record in records:
        line = record.line or 0
        if record.municipality_code not in allowed and line not in refused:
            refused.add(line)
            problems.append(
                RowProblem(line, f"municipality {record.municipality_code} is not one you act for")
            )
    return (
        [r for r in shelters if r.municipality_code in allowed],
        [s for s in snapshots if s.municipality_code in allowed],
    )


def _latest_per_shelter(
    shelters: list[ShelterRecord], snapshots: list[SnapshotRecord]
) -> list[ShelterRecord]:
    """A status time series repeats each shelter once per time: keep its latest row."""
    at_line = {s.line: s.at for s in snapshots}
    latest: dict[tuple[str, str], ShelterRecord] = {}
    for record in shelters:
        key = (record.municipality_code, record.source_id)
        kept = latest.get(key)
        if kept is None:
            latest[key] = record
            continue
        new_at, kept_at = at_line.get(record.line), at_line.get(kept.line)
        if new_at is None or kept_at is None or new_at >= kept_at:
            latest[key] = record
    return list(latest.values())


def _first_per_source_id(
    shelters: list[ShelterRecord], problems: list[RowProblem]
) -> list[ShelterRecord]:
    """A registry names each shelter once; a repeated ID is an error, across service chunks too."""
    first: dict[tuple[str, str], ShelterRecord] = {}
    for record in shelters:
        key = (record.municipality_code, record.source_id)
        if key in first:
            problems.append(
                RowProblem(
                    record.line or 0,
                    f"source ID {record.source_id} appears twice (first on line {first[key].line})",
                )
            )
        else:
            first[key] = record
    return list(first.values())


def _add(result: FileImport, report: ImportReport, problems: list[RowProblem]) -> None:
    result.created += report.created
    result.updated += report.updated
    result.unchanged += report.unchanged
    problems.extend(report.problems)


def _sorted_unique(problems: list[RowProblem]) -> list[RowProblem]:
    seen: set[tuple[int, str, bool]] = set()
    unique: list[RowProblem] = []
    for problem in sorted(problems, key=lambda p: (p.line, p.warning)):
        key = (problem.line, problem.reason, problem.warning)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique


def import_for_user(
    session: Session, user: User, data: bytes, options: ImportOptions
) -> FileImport:
    """An import over HTTP: admins import anywhere, officers only into their municipalities.

    An officer who acts for exactly one municipality needs no `municipality` option: rows that
    state none are theirs.
    """
    if user.role == "admin":
        return import_file(session, data, options, user.username, actor_id=user.id)
    allowed = list(user.municipality_codes)
    if options.municipality is not None and options.municipality not in allowed:
        raise Forbidden(
            f"you act for {', '.join(allowed) or 'no municipality'}, not {options.municipality}",
            field="municipality",
        )
    if options.municipality is None and len(allowed) == 1:
        options = replace(options, municipality=allowed[0])
    return import_file(
        session, data, options, user.username, allowed_codes=allowed, actor_id=user.id
    )
