"""Integrators can produce Kizuna's headers for a body of their own, to test a receiver."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from integrations.webhooks import verify_signature
from integrations.webhooks.cli import app


def test_sign_prints_headers_that_verify(tmp_path: Path) -> None:
    body = tmp_path / "event.json"
    body.write_bytes('{"event":"alert.issued","headline":"避難指示"}'.encode())
    result = CliRunner().invoke(
        app, ["sign", str(body), "--secret", "integrator-secret-0001", "--timestamp", "1800000000"]
    )
    assert result.exit_code == 0, result.output
    headers = dict(line.split(": ", 1) for line in result.output.splitlines())
    assert headers["X-Kizuna-Timestamp"] == "1800000000"
    assert verify_signature(
        "integrator-secret-0001",
        headers["X-Kizuna-Timestamp"],
        body.read_bytes(),
        headers["X-Kizuna-Signature"],
        now=1_800_000_010,
    )


def test_sign_names_a_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["sign", str(tmp_path / "missing.json"), "--secret", "integrator-secret-0001"]
    )
    assert result.exit_code == 2
    assert "missing.json" in result.output
