"""`kizuna shelters import` and `import-snapshots` as an operator runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from integrations.opendata.cli import app

REGISTRY = (
    "避難所名,所在地,緯度,経度,収容人数,電話番号\n"
    "絆第一小学校,絆市本町1,35.01,139.01,300,0120-000-001\n"
    "絆公民館,絆市本町2,35.02,139.02,120,\n"
    "絆体育館,絆市本町3,35.03,east,500,\n"
)
STATUS = (
    "日付,避難所名,開設状況,避難人数,所在地\n"
    "2024-08-29 16:53:00,絆第一小学校,開設,12,絆市本町1\n"
    "2024-08-29 16:53:00,絆公民館,閉鎖,0,絆市本町2\n"
)


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("KIZUNA_DATABASE_URL", raising=False)
    return CliRunner()


def counts(output: str) -> list[int]:
    """The numbers of the summary table: created, updated, unchanged, history points, already
    stored, errors, warnings."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 7 and all(c.isdigit() for c in cells):
            return [int(c) for c in cells]
    raise AssertionError(f"no summary table in {output!r}")


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_import_reports_counts_and_bad_lines_and_reimports_unchanged(
    runner: CliRunner, tmp_path: Path
) -> None:
    registry = write(tmp_path, "kizuna_hinanjo.csv", REGISTRY, "cp932")
    first = runner.invoke(app, ["import", registry, "--municipality", "99998"])
    assert first.exit_code == 1, first.output  # a bad row: imported, but not cleanly
    assert counts(first.output) == [2, 0, 0, 0, 0, 1, 0]
    assert "line 4: 経度 'east' is not a number" in first.output
    again = runner.invoke(app, ["import", registry, "--municipality", "99998"])
    assert counts(again.output) == [0, 0, 2, 0, 0, 1, 0]

    status = write(tmp_path, "kizuna_status.csv", STATUS)
    snapshots = runner.invoke(app, ["import-snapshots", status, "--municipality", "999989"])
    assert snapshots.exit_code == 0, snapshots.output
    assert counts(snapshots.output) == [0, 0, 0, 2, 0, 0, 0]
    repeated = runner.invoke(app, ["import-snapshots", status, "--municipality", "999989"])
    assert counts(repeated.output) == [0, 0, 0, 0, 2, 0, 0]


def test_an_unreadable_file_is_refused_with_exit_code_2(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "notes.csv", "title,status\nfoo,open\n")
    result = runner.invoke(app, ["import", path])
    assert result.exit_code == 2
    assert "refused" in result.output and "no recognisable header" in result.output
    bad_map = runner.invoke(app, ["import", path, "--map", "title"])
    assert bad_map.exit_code == 2
    assert "SOURCE_COLUMN=FIELD" in bad_map.output
