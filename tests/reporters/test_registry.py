"""The wiring the daemon uses: build_reporters, start_background, flush_deliveries, and `benchd serve`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
from report_fixtures import SECRET, Receiver, free_port, record_of, sample_result, wait_for

from daemon.app.compose import background as start_background
from daemon.reporters.registry import REPORTERS, build_reporters, flush_deliveries
from daemon.reporters.reporter import RunInfo
from daemon.settings import DashboardSettings, GithubSettings, ReportSettings, Settings, WebhookSettings
from daemon.store.db import Store
from daemon.store.outbox import Outbox

ENV = {"BENCHD_WEBHOOK_SECRET": SECRET}
ROOT = Path(__file__).resolve().parents[2]


def test_every_configured_reporter_is_built(store: Store) -> None:
    assert list(REPORTERS) == ["junit", "webhook", "github"]
    assert [r.name for r in build_reporters(Settings(), store, {})] == ["junit"]
    report = ReportSettings(webhook=(WebhookSettings(url="http://127.0.0.1:9/a"),
                                     WebhookSettings(url="http://127.0.0.1:9/b")), github=GithubSettings(), junit=False)
    assert [r.name for r in build_reporters(Settings(report=report), store, ENV)] == ["webhook", "webhook", "github"]


def test_watch_background_delivers_and_serves(store: Store, receiver: Receiver, tmp_path: Path) -> None:
    settings = Settings(results=tmp_path / "results", dashboard=DashboardSettings(enabled=True, port=free_port()),
                        report=ReportSettings(webhook=(WebhookSettings(url=receiver.url),)))
    background = start_background(settings, store, ENV)
    try:
        assert len(background) == 2
        for reporter in build_reporters(settings, store, ENV):
            info = RunInfo("run-1", "kws.tflite", "ab" * 32, tmp_path / "r")
            reporter.report(info, record_of(sample_result("run-1")))
        wait_for(lambda: receiver.accepted() == ["run-1"], what="delivery by the background worker")
        url = f"http://127.0.0.1:{settings.dashboard.port}/healthz"
        assert httpx.get(url, timeout=5).json() == {"ok": True}
    finally:
        for item in background:
            item.stop()
    assert (tmp_path / "r" / "junit.xml").is_file()


def test_flush_deliveries_for_benchd_run(store: Store, tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(report=ReportSettings(webhook=(WebhookSettings(url=f"http://127.0.0.1:{port}/hook"),)))
    Outbox(store).enqueue(settings.report.webhook[0].url, "run-1", b'{"run_id": "run-1"}')
    assert flush_deliveries(settings, store, timeout_s=0.5, env=ENV) == 1, "endpoint down: left for benchd watch"
    Outbox(store).retry_later(Outbox(store).all()[0].id, 0.0, "test: due now", None)
    receiver = Receiver().start(port)
    try:
        assert flush_deliveries(settings, store, timeout_s=5, env=ENV) == 0
        assert receiver.accepted() == ["run-1"]
    finally:
        receiver.stop()


def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import sys
        from pathlib import Path
        from daemon.web.server import serve
        from daemon.settings import Settings
        from daemon.store.db import Store
        serve(Settings(), Store(Path(sys.argv[1])), "127.0.0.1", 0, env={})
        print("stopped", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "db.sqlite3")], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None
        line = next(line for line in iter(proc.stdout.readline, "") if "dashboard on" in line)
        url = line.split("dashboard on ")[1].split()[0]
        assert httpx.get(url + "/healthz", timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0 and "stopped" in out
