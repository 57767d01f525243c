"""The dashboard's re-run and cancel buttons over real HTTP on 127.0.0.1: CSRF token, origin and login rules,
and what each control leaves in the store (store/controls.py, the seam the daemon reads)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from daemon.settings import DashboardSettings, Settings
from daemon.store import controls
from daemon.store.db import Store
from daemon.store.snapshots import snapshot_pipeline
from daemon.web.server import DashboardServer

MODEL = b"TFL3" + bytes(range(200))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(results=tmp_path / "results", state=tmp_path / "state", dashboard=DashboardSettings(port=0))


@pytest.fixture
def dashboard(settings: Settings, store: Store) -> Iterator[DashboardServer]:
    server = DashboardServer(settings, store, env={}).start()
    yield server
    server.stop()


def finished_run(store: Store, tmp_path: Path, status: str = "success") -> str:
    """A run as intake and the service leave it: a content-addressed snapshot and a pipeline file."""
    sha = hashlib.sha256(MODEL).hexdigest()
    snapshot = tmp_path / "state" / "models" / sha / "kws.tflite"
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    snapshot.write_bytes(MODEL)
    pipeline = tmp_path / "microkws.yml"
    pipeline.write_text("name: microkws\n")
    _, pipeline_sha = snapshot_pipeline(store.path.parent, pipeline.read_bytes())  # as intake keeps it
    pipeline.write_text("name: microkws, edited since\n")
    run_id = store.add_run(model_name="kws.tflite", model_path=str(snapshot), drop_path="/inbox/kws.tflite",
                           sha256=sha, size=len(MODEL), pipeline=str(pipeline), pipeline_sha256=pipeline_sha,
                           status="running", sidecar='{"repo": "lab/models", "sha": "' + "a" * 40 + '"}')
    if status != "running":
        store.finish_run(run_id, status, None, tmp_path / "results" / "kws" / run_id)
    return run_id


def csrf(client: httpx.Client) -> dict[str, str]:
    return {"X-CSRF-Token": client.get("/api/session").json()["csrf"]}


def test_rerun_queues_a_forced_run_on_the_same_snapshot(dashboard: DashboardServer, store: Store,
                                                         tmp_path: Path) -> None:
    original = finished_run(store, tmp_path)
    with httpx.Client(base_url=dashboard.url, timeout=5) as client:
        answer = client.post(f"/api/runs/{original}/rerun", headers=csrf(client))
        assert answer.status_code == 202 and answer.json()["queued"] is True
        new_id = answer.json()["run_id"]
        again = client.post(f"/api/runs/{original}/rerun", headers=csrf(client))
        assert again.json() == {"run_id": new_id, "queued": False}, "a second click while queued: the same run"
    old, new = store.get_run(original), store.get_run(new_id)
    assert old is not None and new is not None and new.status == "queued" and new.force == 1
    assert (new.model_path, new.sha256, new.size, new.model_name, new.pipeline, new.sidecar) == (
        old.model_path, old.sha256, old.size, old.model_name, old.pipeline, old.sidecar)
    assert new.drop_path == old.model_path, "outside the inbox: finishing it files nothing away"
    assert new.pipeline_sha256 == old.pipeline_sha256 == hashlib.sha256(b"name: microkws\n").hexdigest(), \
        "the pipeline snapshot the original ran, not the file as it is now"
    assert new.duplicate_of is None


def test_rerun_of_a_duplicate_repeats_its_original(store: Store, tmp_path: Path) -> None:
    original = finished_run(store, tmp_path)
    dup = store.add_run(model_name="kws.tflite", model_path="", drop_path="/inbox/kws.tflite", sha256="ab",
                        size=1, pipeline="p.yml", status="success", duplicate_of=original)
    new = store.get_run(controls.rerun(store, dup).run_id)
    assert new is not None and new.model_path == store.get_run(original).model_path  # type: ignore[union-attr]


def test_what_cannot_be_rerun_says_why(dashboard: DashboardServer, store: Store, tmp_path: Path) -> None:
    rejected = store.add_run(model_name="notes.tflite", model_path="", drop_path="/inbox/notes.tflite", sha256="",
                             size=3, pipeline="microkws", status="error", error="not a TFLite model")
    gone = finished_run(store, tmp_path)
    Path(store.get_run(gone).model_path).unlink()  # type: ignore[union-attr]
    with httpx.Client(base_url=dashboard.url, timeout=5) as client:
        r = client.post(f"/api/runs/{rejected}/rerun", headers=csrf(client))
        assert r.status_code == 409 and "never ran (not a TFLite model)" in r.json()["error"]
        r = client.post(f"/api/runs/{gone}/rerun", headers=csrf(client))
        assert r.status_code == 409 and "snapshot" in r.json()["error"] and "drop the model again" in r.json()["error"]
        assert client.post("/api/runs/nope/rerun", headers=csrf(client)).status_code == 409


def test_cancel_records_a_request_the_daemon_reads(dashboard: DashboardServer, store: Store, tmp_path: Path) -> None:
    running = finished_run(store, tmp_path, status="running")
    done = finished_run(store, tmp_path)
    assert not controls.cancel_requested(store, running)
    with httpx.Client(base_url=dashboard.url, timeout=5) as client:
        r = client.post(f"/api/runs/{running}/cancel", headers=csrf(client))
        assert r.status_code == 202 and r.json() == {"run_id": running, "requested": True}
        r = client.post(f"/api/runs/{done}/cancel", headers=csrf(client))
        assert r.status_code == 409 and "already ended (success)" in r.json()["error"]
    assert controls.cancel_requested(store, running) and controls.pending_cancels(store) == [running]
    controls.cancel_handled(store, running)
    assert not controls.cancel_requested(store, running)


def test_a_control_needs_the_csrf_token_and_our_origin(dashboard: DashboardServer, store: Store,
                                                       tmp_path: Path) -> None:
    run_id = finished_run(store, tmp_path)
    with httpx.Client(base_url=dashboard.url, timeout=5) as client:
        token = csrf(client)
        for headers in ({}, {"X-CSRF-Token": "guess"}, {**token, "Origin": "http://evil.example"},
                        {**token, "Origin": f"http://localhost:{dashboard.port + 1}"}):
            r = client.post(f"/api/runs/{run_id}/rerun", headers=headers)
            assert r.status_code == 403, headers
            assert "default-src 'self'" in r.headers["content-security-policy"]
        form = client.post(f"/api/runs/{run_id}/cancel", data={"x": "1"})  # what a cross-site form can send
        assert form.status_code == 403
        assert client.get(f"/api/runs/{run_id}/rerun").status_code == 405, "GET never changes anything"
        own = client.post(f"/api/runs/{run_id}/rerun", headers={**token, "Origin": dashboard.url})
        assert own.status_code == 202
    assert len(store.recent_runs(10)) == 2, "only the request with token and own origin queued a run"


def test_controls_need_the_login_too(settings: Settings, store: Store, tmp_path: Path) -> None:
    run_id = finished_run(store, tmp_path)
    server = DashboardServer(settings, store, env={"BENCHD_DASHBOARD_TOKEN": "t0k"}).start()
    try:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            assert client.get("/api/session").status_code == 401
            token = client.get("/api/session", headers={"Authorization": "Bearer t0k"}).json()["csrf"]
            r = client.post(f"/api/runs/{run_id}/rerun", headers={"X-CSRF-Token": token})
            assert r.status_code == 401, "the CSRF token is no login"
            r = client.post(f"/api/runs/{run_id}/rerun", headers={"X-CSRF-Token": token, "Authorization": "Bearer t0k"})
            assert r.status_code == 202
    finally:
        server.stop()


QUICK = """\
name: quick
on:
  model_dropped: { paths: ["*.tflite"] }
jobs:
  work:
    steps:
      - run: echo "running ${{ model.name }}"
"""


def test_a_running_daemon_runs_what_the_rerun_button_queued(tmp_path: Path, samples: dict[str, Path]) -> None:
    """The seam end to end: the button queues, an idle `benchd watch` claims it (no drop needed), and the
    re-run ends in its own result.json; the inbox and the filed drops are left alone."""
    import shutil
    import time

    from daemon.app.service import Daemon

    workflow = tmp_path / "quick.yml"
    workflow.write_text(QUICK)
    (tmp_path / "inbox").mkdir()
    settings = Settings(inbox=tmp_path / "inbox", results=tmp_path / "results", state=tmp_path / "state",
                        pipeline=str(workflow), stable_s=0.2, executor="local", dashboard=DashboardSettings(port=0))
    daemon = Daemon(settings)
    daemon.start()
    server = None
    try:
        shutil.copy(samples["kws_xs.tflite"], settings.inbox / "kws.tflite")
        deadline = time.monotonic() + 30
        while not (runs := daemon.store.recent_runs(5)) or runs[0].status != "success":
            assert time.monotonic() < deadline, "the drop never ran"
            time.sleep(0.05)
        assert daemon.wait_idle(30)
        first = runs[0]
        server = DashboardServer(settings, Store(settings.db_path), env={}).start()
        with httpx.Client(base_url=server.url, timeout=5) as client:
            answer = client.post(f"/api/runs/{first.id}/rerun", headers=csrf(client))
        assert answer.status_code == 202
        new_id = answer.json()["run_id"]
        while (row := daemon.store.get_run(new_id)) is None or row.status not in ("success", "failure", "error"):
            assert time.monotonic() < deadline + 30, "the re-run was never claimed"
            time.sleep(0.05)
        assert row.status == "success" and row.result_dir
        result = json.loads((Path(row.result_dir) / "result.json").read_text())
        assert result["run_id"] == new_id and "duplicate_of" not in result
        assert result["model"]["sha256"] == first.sha256 and result["model"]["name"] == "kws.tflite"
        assert list(settings.inbox.iterdir()) == [] and len(list(settings.processed.iterdir())) == 1
    finally:
        if server is not None:
            server.stop()
        daemon.stop()
        daemon.store.close()
