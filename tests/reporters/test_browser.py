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

from daemon.reporters.files import write_json
from daemon.settings import DashboardSettings, Settings
from daemon.store.db import Store
from daemon.web.server import DashboardServer

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


def test_model_page_trend_run_page_compare_and_rerun(page: Any, store: Store, tmp_path: Path) -> None:
    """Three runs of one model: the model page draws a trend of each figure; a run shows its jobs in
    pipeline order with the skip reason, its virtual-core figures, a duplicate's link and a working re-run."""
    from test_history import metrics

    settings = Settings(results=tmp_path / "results", dashboard=DashboardSettings(port=0))
    ids = []
    for latency, diff, instr, arena in ((1.52, 2, 431_877, 10_240), (1.31, 1, 420_112, 9_744),
                                        (1.18, 1, 409_650, 9_744)):
        run_id, folder = make_run(store, settings.results, metrics=metrics(latency, diff, instr, arena))
        ids.append(run_id)
        time.sleep(0.01)
    result = sample_result(ids[-1], metrics=metrics(1.18, 1, 409_650, 9_744, [[0, 1], [2, 9], [4, 5]]))
    result["jobs"].insert(1, {"id": "firmware", "status": "skipped", "executor": None, "image": None, "outputs": {},
                              "steps": [], "skip_reason": "image benchd/espidf not built — benchd images build "
                              "espidf"})
    write_json(folder / "result.json", result)
    store.set_step(ids[-1], "compile-host", 0, error="tvmc compile failed: " + "operator 3 of 12 unsupported; " * 12)
    snapshot = tmp_path / "state" / "models" / ("ab" * 32) / "kws.tflite"
    snapshot.parent.mkdir(parents=True)
    snapshot.write_bytes(b"TFL3")
    (tmp_path / "microkws.yml").write_text("name: microkws\n")
    with store.transaction() as db:  # as intake records it: the content-addressed snapshot, the pipeline file
        db.execute("UPDATE runs SET model_path = ?, pipeline = ? WHERE id = ?",
                   (str(snapshot), str(tmp_path / "microkws.yml"), ids[-1]))
    dup = store.add_run(model_name="kws.tflite", model_path="", drop_path="/inbox/kws.tflite", sha256="ab" * 32,
                        size=1, pipeline="pipelines/microkws.yml", status="success", duplicate_of=ids[-1])
    shots = ARTIFACT.parent
    shots.mkdir(parents=True, exist_ok=True)
    server = DashboardServer(settings, store, env={}).start()
    try:
        page.goto(server.url + "/#model=kws.tflite")
        for key in ("latency_ms", "max_abs_diff", "instructions", "arena_bytes"):
            page.wait_for_selector(f'figure[data-series="{key}"] svg circle[data-run="{ids[-1]}"]', timeout=WAIT_MS)
        assert page.locator('figure[data-series="latency_ms"] circle').count() == 3
        assert "1.180 ms" in page.inner_text('figure[data-series="latency_ms"] figcaption')
        assert "409,650" in page.inner_text('figure[data-series="instructions"] figcaption')
        assert page.locator("#model-runs tbody tr").count() == 4  # the duplicate is listed, not plotted
        page.screenshot(path=str(shots / "dashboard-model.png"), full_page=True)

        page.locator(f'#model-runs tr[data-run="{ids[0]}"] input').check()
        page.locator(f'#model-runs tr[data-run="{ids[-1]}"] input').check()
        page.click("#compare-picked")
        delta = '#compare-metrics tr[data-figure="virtual.instructions"] >> text=-22,227'
        page.wait_for_selector(delta, timeout=WAIT_MS)
        page.wait_for_selector("#compare-outputs >> text=virtual[1]", timeout=WAIT_MS)
        page.screenshot(path=str(shots / "dashboard-compare.png"), full_page=True)

        page.goto(server.url + f"/#run={dup}")
        page.wait_for_selector(f'#duplicate a[href="#run={ids[-1]}"]', timeout=WAIT_MS).click()
        page.wait_for_selector("#virtual >> text=409,650", timeout=WAIT_MS)
        assert [j for j in page.eval_on_selector_all(".job", "els => els.map(e => e.dataset.job)")] == [
            "inspect", "firmware", "compile-host"], "the record's order, not the store's"
        assert "skipped: image benchd/espidf not built" in page.inner_text('.job[data-job="firmware"]')
        error = page.locator('tr[data-step="compile"] td.err')
        assert error.bounding_box()["height"] > 30, "a long error wraps"
        page.screenshot(path=str(shots / "dashboard-run.png"), full_page=True)

        page.click("#rerun")
        page.wait_for_selector("#notice >> text=queued", timeout=WAIT_MS)
        rerun = next(r for r in store.recent_runs(10) if r.status == "queued")
        assert rerun.model_path == str(snapshot) and rerun.force == 1
        page.wait_for_selector(f'#runs tr[data-run="{rerun.id}"].selected', timeout=WAIT_MS)
        page.wait_for_selector("#cancel", timeout=WAIT_MS).click()
        page.wait_for_selector("#notice >> text=cancel requested", timeout=WAIT_MS)

        page.goto(server.url + "/#board=A0B1C2")
        page.wait_for_selector(f'#flashes tr[data-run="{ids[-1]}"]', timeout=WAIT_MS)
        page.wait_for_selector("#last-good >> text=123,456", timeout=WAIT_MS)
        page.screenshot(path=str(shots / "dashboard-board.png"), full_page=True)
    finally:
        server.stop()
