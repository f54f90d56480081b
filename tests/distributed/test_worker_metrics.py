"""A Celery worker answers no HTTP, so its fan-out counts are served on its own metrics port."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.cluster import Cluster, issue, wait_until
from tests.support import alert_body, free_port, http

INSIDE_BOX = (139.0, 35.0, 139.05, 35.1)  # the default alert_body area


def targeted_on(url: str) -> float | None:
    try:
        scraped = http.get(f"{url}/metrics", timeout=2)
    except httpx.HTTPError:
        return None
    found = re.search(r"^kizuna_recipients_targeted_total ([0-9.e+]+)$", scraped.text, re.M)
    return float(found.group(1)) if found else None


def test_a_prefork_worker_serves_the_counts_of_its_pool_processes(
    cluster: Cluster, tmp_path: Path
) -> None:
    api = cluster.api()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left by an earlier run")
    port = free_port()
    worker = cluster.worker(
        pool="prefork", metrics_port=port, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)
    )
    cluster.bulk_subscribers(300, INSIDE_BOX)
    wait_until(lambda: targeted_on(worker.url) == 0.0, 60, "worker metrics port", worker.tail)

    response = issue(api.url, alert_body())
    assert response.status_code == 200, response.text
    assert response.json()["recipients"] == 300
    # Counted in the pool process that ran the fan-out; read through the shared directory.
    wait_until(lambda: targeted_on(worker.url) == 300.0, 60, "fan-out counted", worker.tail)


def test_a_prefork_worker_without_a_shared_directory_refuses_a_metrics_port(
    cluster: Cluster,
) -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "kizuna", "worker", "--metrics-port", str(free_port())],
        env={k: v for k, v in cluster.env().items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "PROMETHEUS_MULTIPROC_DIR" in refused.stderr + refused.stdout
