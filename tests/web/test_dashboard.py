"""The dashboard over real HTTP on 127.0.0.1: API, read-only, token rules, bind errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from report_fixtures import make_run

from daemon.errors import BenchdError, ConfigError
from daemon.settings import DashboardSettings, Settings
from daemon.store.db import Store
from daemon.web.server import DashboardServer, is_loopback


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(results=tmp_path / "results", dashboard=DashboardSettings(port=0))


@pytest.fixture
def dashboard(settings: Settings, store: Store) -> Iterator[DashboardServer]:
    server = DashboardServer(settings, store, env={}).start()
    yield server
    server.stop()


def test_api_serves_runs_detail_log_and_boards(dashboard: DashboardServer, store: Store, settings) -> None:
    run_id, _ = make_run(store, settings.results, finished=False)
    with httpx.Client(base_url=dashboard.url, timeout=5) as client:
        page = client.get("/")
        assert page.status_code == 200 and "<h2>Recent runs</h2>" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert client.get("/app.js").headers["content-type"].startswith("text/javascript")
        assert [r["id"] for r in client.get("/api/runs").json()] == [run_id]
        detail = client.get(f"/api/runs/{run_id}").json()
        assert detail["status"] == "running" and detail["jobs"][1]["steps"][0]["status"] == "running"
        log = client.get(f"/api/runs/{run_id}/log", params={"job": "compile-host", "idx": 0}).json()
        assert log["text"] == "compiling kws.tflite\n"
        assert client.get("/api/runs/nope").status_code == 404
        assert client.get("/api/boards").json() == []
        assert client.post("/api/runs").status_code == 405, "read-only"


def test_token_is_required_once_configured(settings: Settings, store: Store) -> None:
    server = DashboardServer(settings, store, env={"BENCHD_DASHBOARD_TOKEN": "t0k"}).start()
    try:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            denied = client.get("/api/runs")
            assert denied.status_code == 401 and "/?token=" in denied.json()["error"]
            assert client.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert client.get("/api/runs", headers={"Authorization": "Bearer t0k"}).status_code == 200
            assert client.get("/", params={"token": "t0k"}).status_code == 200  # sets the cookie
            assert client.get("/api/runs").status_code == 200, "the page's own polls ride on the cookie"
    finally:
        server.stop()


def test_refuses_to_bind_beyond_loopback_without_a_token(settings: Settings, store: Store) -> None:
    with pytest.raises(ConfigError, match="set BENCHD_DASHBOARD_TOKEN .* or bind to 127.0.0.1"):
        DashboardServer(settings, store, host="0.0.0.0", env={})
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("bench.lab")


def test_a_taken_port_is_a_clear_error(dashboard: DashboardServer, settings: Settings, store: Store) -> None:
    with pytest.raises(BenchdError, match=f"127.0.0.1:{dashboard.port}: .*pass --port"):
        DashboardServer(settings, store, port=dashboard.port, env={}).start()
