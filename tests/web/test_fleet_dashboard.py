"""The dashboard's fleet: `GET /api/fleet` over real HTTP, and the index's Fleet pane in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fleet_rows import migrated, run_across_two_hosts, seed_fleet
from test_browser import WAIT_MS, page  # noqa: F401  (the browser fixture)

from daemon.settings import DashboardSettings, Settings
from daemon.store.db import Store
from daemon.store.queue import Queue
from daemon.web.server import DashboardServer


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(results=tmp_path / "results", dashboard=DashboardSettings(port=0))


@pytest.fixture
def queue(pg_url: str) -> Iterator[Queue]:
    with migrated(pg_url) as q:
        seed_fleet(q)
        yield q


@pytest.fixture
def fleet_dashboard(settings: Settings, store: Store, queue: Queue) -> Iterator[DashboardServer]:
    server = DashboardServer(settings, store, env={}, queue=queue).start()
    yield server
    server.stop()


def test_without_a_queue_the_fleet_is_not_found(settings: Settings, store: Store) -> None:
    server = DashboardServer(settings, store, env={}).start()
    try:
        r = httpx.get(server.url + "/api/fleet")
    finally:
        server.stop()
    assert r.status_code == 404 and "[queue] url" in r.json()["error"]


@pytest.mark.pg
def test_api_fleet_lists_hosts_and_boards_with_lease_and_health_history(fleet_dashboard: DashboardServer,
                                                                        queue: Queue) -> None:
    run_across_two_hosts(queue, finish=False)  # bench-a runs flash on A0B1C2; D3E4F5 went unknown
    queue.set_health("D3E4F5", "maintenance", "new cable")
    fleet = httpx.get(fleet_dashboard.url + "/api/fleet").json()
    hosts = {h["name"]: h for h in fleet["hosts"]}
    assert hosts["bench-a"]["running"] == 1 and hosts["bench-a"]["labels"] == ["host", "docker"]
    assert hosts["bench-b"]["running"] == 0 and hosts["bench-b"]["last_seen_s"] < 60
    boards = {b["id"]: b for b in fleet["boards"]}
    assert boards["A0B1C2"]["lease"]["host"] == "bench-a" and boards["A0B1C2"]["health"] == "good"
    assert boards["D3E4F5"]["health"] == "maintenance" and boards["D3E4F5"]["health_reason"] == "new cable"
    assert [(e["health"], e["reason"]) for e in boards["D3E4F5"]["history"]] == [
        ("maintenance", "new cable"), ("unknown", "infra failure: board unplugged"), ("good", "health check passed")]


@pytest.mark.pg
@pytest.mark.browser
def test_fleet_pane_shows_hosts_and_board_health(page: Any, fleet_dashboard: DashboardServer,  # noqa: F811
                                                 queue: Queue) -> None:
    page.goto(fleet_dashboard.url)
    host = page.wait_for_selector('#fleet-hosts tr[data-host="bench-a"]', timeout=WAIT_MS)
    assert "host, docker" in host.inner_text()
    page.wait_for_selector('#fleet-boards tr[data-board="A0B1C2"] td:nth-child(3) [data-health="good"]',
                           timeout=WAIT_MS)
    queue.set_health("A0B1C2", "bad", "health check: wrong result lines")
    row = page.wait_for_selector('#fleet-boards tr[data-board="A0B1C2"]:has(td:nth-child(3) [data-health="bad"])',
                                 timeout=WAIT_MS)
    assert "wrong result lines" in row.inner_text()
    assert row.query_selector('td.history [data-health="good"]') is not None  # its history: good, then bad
