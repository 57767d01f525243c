"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): it loads, shows a finished
run, and follows a running one without a reload. Leaves tests/artifacts/dashboard.png behind."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import make_run, metrics, sample_result

from daemon.reporters.files import write_json
from daemon.settings import DashboardSettings, Settings
from daemon.store.db import Store
from daemon.store.snapshots import snapshot_pipeline
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
        page.wait_for_selector('#boards tr[data-board="A0B1C2"] >> text=123,456', timeout=WAIT_MS)
        page.wait_for_selector('#models tr[data-model="kws.tflite"] >> text=100 %', timeout=WAIT_MS)
        row.click()
        page.wait_for_selector('#host-metrics tr[data-key="latency_ms"] >> text=1.250 ms', timeout=WAIT_MS)
        assert "compile-host" in page.inner_text("#detail")
        page.click("header a")  # back to the index

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
        page.wait_for_selector(f'#detail [data-status="success"] + code#run-id:text("{live}")', timeout=WAIT_MS)
        assert "live" in page.inner_text("#live")
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACT), full_page=True)
    finally:
        server.stop()
    assert ARTIFACT.stat().st_size > 10_000


def test_model_page_trend_run_page_compare_and_rerun(page: Any, store: Store, tmp_path: Path) -> None:
    """Three runs of one model: the model page draws a trend of each figure; a run shows its jobs in
    pipeline order with the skip reason, its virtual-core figures, a duplicate's link and a working re-run."""

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
    _, pipeline_sha = snapshot_pipeline(store.path.parent, b"name: microkws\n")
    with store.transaction() as db:  # as intake records it: the content-addressed snapshots, the pipeline file
        db.execute("UPDATE runs SET model_path = ?, pipeline = ?, pipeline_sha256 = ? WHERE id = ?",
                   (str(snapshot), str(tmp_path / "microkws.yml"), pipeline_sha, ids[-1]))
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
        page.wait_for_selector(f'code#run-id:text("{rerun.id}")', timeout=WAIT_MS)
        page.wait_for_selector("#cancel", timeout=WAIT_MS).click()
        page.wait_for_selector("#notice >> text=cancel requested", timeout=WAIT_MS)

        page.goto(server.url + "/#board=A0B1C2")
        page.wait_for_selector(f'#flashes tr[data-run="{ids[-1]}"]', timeout=WAIT_MS)
        page.wait_for_selector("#last-good >> text=123,456", timeout=WAIT_MS)
        page.screenshot(path=str(shots / "dashboard-board.png"), full_page=True)
    finally:
        server.stop()


# -- the dashboard as a lab engineer looks at it: 1280 × 800, a lab's models (lab_fixtures.py) -----------
SIDEWAYS = """() => {
  const doc = document.scrollingElement;
  const scrollers = [...document.querySelectorAll("*")].filter((e) => e.offsetParent !== null
    && ["auto", "scroll"].includes(getComputedStyle(e).overflowX) && e.scrollWidth > e.clientWidth + 1);
  return { page: doc.scrollWidth - doc.clientWidth, scrollers: scrollers.map((e) => e.id || e.tagName) };
}"""
CLIPPED = """() => [...document.querySelectorAll("#detail table.figures td")].filter((td) => td.offsetParent !== null)
  .flatMap((td) => {
    const r = td.getBoundingClientRect(), why = [];
    if (td.scrollWidth > td.clientWidth + 1) why.push("wider than its cell");
    if (r.left < 0 || r.right > document.documentElement.clientWidth) why.push("outside the window");
    for (let a = td.parentElement; a && a !== document.body; a = a.parentElement) {
      const box = a.getBoundingClientRect();
      if (getComputedStyle(a).overflowX !== "visible" && (r.right > box.right + 1 || r.left < box.left - 1))
        why.push("cut off by " + (a.id || a.tagName));
    }
    return why.length ? [td.closest("tr").innerText.replace(/\\s+/g, " ") + ": " + why.join(", ")] : [];
  })"""


def test_index_at_1280_is_a_table_of_models_without_sideways_scroll(page: Any, store: Store, tmp_path: Path) -> None:
    from lab_fixtures import lab

    settings = Settings(results=tmp_path / "results", dashboard=DashboardSettings(port=0))
    runs = lab(store, settings.results)
    page.set_viewport_size({"width": 1280, "height": 800})
    server = DashboardServer(settings, store, env={}).start()
    try:
        page.goto(server.url)
        page.wait_for_selector(f'#runs tr[data-run="{runs["kws_s.tflite"][-1]}"]', timeout=WAIT_MS)
        page.wait_for_timeout(1500)  # a poll more: every table of the index is drawn
        sideways = page.evaluate(SIDEWAYS)
        assert sideways == {"page": 0, "scrollers": []}, "the index scrolls sideways at 1280 px"
        assert not page.is_visible("#log-pane"), "no empty log pane on the index"

        rows = page.locator("#models tbody tr")
        assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.model)")) == sorted(runs), "one row a model"
        kws = page.locator('#models tr[data-model="kws_s.tflite"]').inner_text()
        for figure in ("100 %", "9", "1,297,431", "23.4 KiB", "59.9 KiB", "2/2"):  # the newest run's figures
            assert figure in kws
        line = page.locator('#models tr[data-model="kws_s.tflite"] svg.spark polyline').get_attribute("points")
        assert len(line.split()) == 5, "a point for each of the model's five runs"
        assert page.locator('#models tr[data-model="unsupported_op.tflite"] [data-status="error"]').count() == 1
        page.screenshot(path=str(ARTIFACT.parent / "dashboard-index-1280.png"))
        page.click('#models tr[data-model="kws_xs.tflite"] td.num >> nth=0')
        page.wait_for_selector('figure[data-series="instructions"]', timeout=WAIT_MS)
    finally:
        server.stop()


def test_run_page_at_1280_shows_every_metric_whole(page: Any, store: Store, tmp_path: Path) -> None:
    """Every figure of a run readable without scrolling sideways; a long skip reason in one line, the rest
    behind a disclosure; the validation thresholds as rows; instructions for a simulated board, cycles for a
    real one."""
    from lab_fixtures import MLF_SKIP, lab

    settings = Settings(results=tmp_path / "results", dashboard=DashboardSettings(port=0))
    run_id = lab(store, settings.results)["kws_s.tflite"][-1]
    page.set_viewport_size({"width": 1280, "height": 800})
    server = DashboardServer(settings, store, env={}).start()
    try:
        page.goto(server.url + f"/#run={run_id}")
        page.wait_for_selector("#virtual >> text=1,297,431", timeout=WAIT_MS)
        assert page.evaluate(CLIPPED) == [], "a figure's value is cut off"
        assert page.evaluate(SIDEWAYS)["page"] == 0
        page.screenshot(path=str(ARTIFACT.parent / "dashboard-run-1280.png"), full_page=True)

        host = page.inner_text("#host-metrics")
        assert "{" not in host, "thresholds as rows, not JSON"
        assert "128" in page.inner_text('#host-metrics tr[data-key="thresholds.max_abs_diff"]')
        assert "0.8" in page.inner_text('#host-metrics tr[data-key="thresholds.min_top1"]')
        assert "12.2.0-14+deb12u1+11+b2" in page.inner_text('#virtual tr[data-key="toolchain.gcc-riscv64-unknown-elf"]')

        assert "1,298,635 instructions" in page.inner_text('#run-boards tr[data-board="sim-c3-0"]')
        assert "cycles" not in page.inner_text('#run-boards tr[data-board="sim-c3-0"]')
        assert "2,871,204 cycles" in page.inner_text('#run-boards tr[data-board="7C:DF:A1:0E:22:40"]')

        skip = page.locator('.job[data-job="compile-mlf"] details.skip')
        summary = skip.locator("summary")
        assert summary.bounding_box()["height"] < 30, "the reason in one line"
        assert "benchd images build tvm-legacy" in summary.inner_text()
        assert not skip.locator(".full").is_visible()
        summary.click()
        assert skip.locator(".full").inner_text() == MLF_SKIP

        page.goto(server.url + "/#board=sim-c3-0")  # its flash history names the long-named model too
        page.wait_for_selector('#flashes tr >> text=person_detection', timeout=WAIT_MS)
        assert page.evaluate(SIDEWAYS)["page"] == 0
    finally:
        server.stop()
