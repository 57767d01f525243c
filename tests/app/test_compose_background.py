"""`compose.background`, what `benchd watch` and `benchd worker` start beside their runs: with `[queue] url` set,
the dashboard has the shared queue (the Fleet pane, POST /runs) on connections of its own, closed on stop."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psycopg
import pytest
from fleet_rows import migrated, seed_fleet

from daemon.app import compose
from daemon.settings import DashboardSettings, HostSettings, QueueSettings, Settings
from daemon.store.db import Store
from daemon.web.server import DashboardServer

APP_NAME = "benchd-dashboard@bench-c"


def connections(url: str, application_name: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                           (application_name,)).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.pg
def test_background_serves_the_fleet_and_post_runs_from_the_shared_queue(pg_url: str, store: Store, tmp_path: Path,
                                                                          real_models: dict[str, Path]) -> None:
    settings = Settings(results=tmp_path / "results", state=tmp_path / "state", host=HostSettings(name="bench-c"),
                        queue=QueueSettings(url=pg_url), dashboard=DashboardSettings(enabled=True, port=0))
    with migrated(pg_url) as queue:
        seed_fleet(queue)
        started = compose.background(settings, store, env={"BENCHD_DASHBOARD_TOKEN": "t0k"})
        try:
            dashboard = next(s for s in started if isinstance(s, DashboardServer))
            with httpx.Client(base_url=dashboard.url, timeout=10, headers={"Authorization": "Bearer t0k"}) as client:
                fleet = client.get("/api/fleet")
                assert fleet.status_code == 200, fleet.text
                assert [h["name"] for h in fleet.json()["hosts"]] == ["bench-a", "bench-b"]
                assert {b["id"] for b in fleet.json()["boards"]} == {"A0B1C2", "D3E4F5"}
                model = real_models["micro_kws_xs_yesno_quantized"].read_bytes()
                posted = client.post("/runs", params={"name": "kws.tflite"}, content=model)
            assert posted.status_code == 201, posted.text
            run = queue.run(posted.json()["run"])
            assert run is not None and run["submitted_by"] == "dashboard@127.0.0.1"
            assert connections(pg_url, APP_NAME) >= 1, "the dashboard's own connections, by name"
        finally:
            for item in reversed(started):
                item.stop()
        deadline = time.monotonic() + 5  # a backend leaves pg_stat_activity just after its client said goodbye
        while connections(pg_url, APP_NAME) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert connections(pg_url, APP_NAME) == 0, "closed with the dashboard"


def test_background_without_a_queue_serves_no_fleet(store: Store, tmp_path: Path) -> None:
    settings = Settings(results=tmp_path / "results", state=tmp_path / "state",
                        dashboard=DashboardSettings(enabled=True, port=0))
    started = compose.background(settings, store, env={})
    try:
        [dashboard] = started
        assert isinstance(dashboard, DashboardServer)
        r = httpx.get(dashboard.url + "/api/fleet", timeout=10)
    finally:
        for item in reversed(started):
            item.stop()
    assert r.status_code == 404 and "[queue] url" in r.json()["error"]
