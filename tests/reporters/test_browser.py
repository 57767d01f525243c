"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): it loads, shows a finished
run, and follows a running one without a reload. Leaves tests/artifacts/dashboard.png behind."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import make_run, sample_result

from daemon.reporters.dashboard.server import DashboardServer
from daemon.reporters.files import write_json
from daemon.settings import DashboardSettings, Settings
from daemon.store.db import Store

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard.png"
WAIT_MS = 10_000  # the page polls every second: ten polls at most for any change

pytestmark = pytest.mark.browser


@pytest.fixture
def page() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install 'playwright>=1.45' (never `playwright install`)")
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found: apt-get install -y chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


def test_dashboard_shows_a_finished_run_and_follows_a_running_one(page: Any, store: Store, tmp_path: Path) -> None:
    settings = Settings(results=tmp_path / "results", dashboard=DashboardSettings(port=0))
    done, _ = make_run(store, settings.results, "success")
    server = DashboardServer(settings, store, env={}).start()
    try:
        page.goto(server.url)
        row = page.wait_for_selector(f'#runs tr[data-run="{done}"]', timeout=WAIT_MS)
        assert "kws.tflite" in row.inner_text() and "success" in row.inner_text()
        page.wait_for_selector("#host-metrics >> text=latency_ms", timeout=WAIT_MS)
        page.wait_for_selector('#boards tr[data-board="A0B1C2"] >> text=123,456', timeout=WAIT_MS)
        assert "compile-host" in page.inner_text("#detail")

        # a new run starts while the page is open: it appears, and its step log streams in
        live, folder = make_run(store, settings.results, finished=False, model="wake_word.tflite")
        page.wait_for_selector(f'#runs tr[data-run="{live}"]', timeout=WAIT_MS).click()
        page.wait_for_selector("#log >> text=compiling kws.tflite", timeout=WAIT_MS)
        log = folder / "logs" / "compile-host" / "1-compile.log"
        with log.open("a") as f:
            f.write("lowering operator 3/12\n")
        page.wait_for_selector("#log >> text=operator 3/12", timeout=WAIT_MS)

        # the step finishes, the next one starts, then the run finishes
        now = time.time()
        store.set_step(live, "compile-host", 0, status="success", exit_code=0, finished_at=now)
        (folder / "logs" / "compile-host" / "2-validate.log").write_text("validating 20 samples\n")
        store.set_step(live, "compile-host", 1, step_id="validate", status="running", started_at=now,
                       log_path=str(folder / "logs" / "compile-host" / "2-validate.log"))
        page.wait_for_selector('tr[data-step="validate"] [data-status="running"]', timeout=WAIT_MS)
        page.wait_for_selector("#log >> text=validating 20 samples", timeout=WAIT_MS)
        store.set_step(live, "compile-host", 1, status="success", exit_code=0, finished_at=time.time())
        store.set_job(live, "compile-host", status="success", finished_at=time.time())
        write_json(folder / "result.json", sample_result(live))
        store.finish_run(live, "success", None, folder)
        page.wait_for_selector(f'#runs tr[data-run="{live}"] [data-status="success"]', timeout=WAIT_MS)
        assert "live" in page.inner_text("#live")
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACT), full_page=True)
    finally:
        server.stop()
    assert ARTIFACT.stat().st_size > 10_000
