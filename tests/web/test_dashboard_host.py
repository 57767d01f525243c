"""The dashboard refuses foreign Host headers (DNS rebinding, issue 12), over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from daemon.settings import DashboardSettings, Settings
from daemon.store.db import Store
from daemon.web.app import host_allowed
from daemon.web.server import DashboardServer


def serve(tmp_path: Path, store: Store, env: dict[str, str] | None = None, **dashboard: str) -> DashboardServer:
    settings = Settings(results=tmp_path / "results", dashboard=DashboardSettings(port=0, **dashboard))
    return DashboardServer(settings, store, env=env or {}).start()


@pytest.fixture
def dashboard(tmp_path: Path, store: Store) -> Iterator[DashboardServer]:
    server = serve(tmp_path, store, public_url="https://Bench.Lab/dash/")
    yield server
    server.stop()


def status(server: DashboardServer, host: str, path: str = "/api/runs") -> int:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        return client.get(path, headers={"Host": host}).status_code


def test_own_address_localhost_and_public_name_are_served(dashboard: DashboardServer) -> None:
    port = dashboard.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"localhost.:{port}",
                 "bench.lab", "bench.lab:443", "BENCH.LAB"):
        assert status(dashboard, host) == 200, host


@pytest.mark.parametrize("host", [
    "evil.example", "evil.example:{port}",  # a rebound name: the page's own origin, now resolving to us
    "localhost.evil.example:{port}", "bench.lab.evil.example", "127.0.0.1.nip.io:{port}",
    "127.0.0.1:{other}", "localhost:{other}", "localhost",  # our names, another port (80 when none)
    "127.0.0.1:{port}@evil.example", "127.0.0.1:x", "", "[::1]:{port}",  # the server listens on IPv4 only
])
def test_foreign_hosts_get_421(dashboard: DashboardServer, host: str) -> None:
    host = host.format(port=dashboard.port, other=dashboard.port + 1 if dashboard.port < 65535 else 1)
    for path in ("/", "/api/runs", "/healthz"):
        assert status(dashboard, host, path) == 421, (host, path)


def test_a_request_without_host_is_refused(dashboard: DashboardServer) -> None:
    with socket.create_connection(("127.0.0.1", dashboard.port), timeout=5) as conn:
        conn.sendall(b"GET /api/runs HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 421 "), answer[:80]
    assert b"public_url" in answer and b"content-security-policy" in answer.lower()


def test_the_host_check_comes_before_the_token(tmp_path: Path, store: Store) -> None:
    server = serve(tmp_path, store, env={"BENCHD_DASHBOARD_TOKEN": "t0k"})
    try:
        auth = {"Authorization": "Bearer t0k"}
        with httpx.Client(base_url=server.url, timeout=5, headers=auth) as client:
            assert client.get("/api/runs").status_code == 200
            assert client.get("/api/runs", headers={"Host": f"evil.example:{server.port}"}).status_code == 421
    finally:
        server.stop()


def test_host_rules() -> None:
    local = ("127.0.0.1", 8737)
    assert host_allowed("127.0.0.1:8737", local, ())
    assert host_allowed("[::1]:8737", ("::1", 8737), ())
    assert host_allowed("127.0.0.1", ("127.0.0.1", 80), ()), "no port means 80"
    assert host_allowed("bench.lab:9999", local, {"bench.lab"}), "behind a proxy the public port may differ"
    assert not host_allowed("127.0.0.1:8738", local, ())
    assert not host_allowed("bench.lab:8737", local, ())
    assert not host_allowed("localhost:8737", None, ()), "without a known local end, only configured names"
    assert not host_allowed("localhost:8737/x", local, ())
