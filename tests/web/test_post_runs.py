"""`POST /runs` over real HTTP on 127.0.0.1: a real model into a real shared queue (PostgreSQL), through the
dashboard's own submit (app/compose.submitter); the API token, the size bound, the model and pipeline checks."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fleet_rows import migrated

from daemon import actions
from daemon.app.compose import submitter
from daemon.app.submit import plan
from daemon.pipeline.loader import find_workflow, load_workflow
from daemon.settings import DashboardSettings, Settings
from daemon.store.db import Store
from daemon.store.postgres import QueueUnavailable
from daemon.store.queue import Queue
from daemon.web.server import DashboardServer

TOKEN = {"BENCHD_DASHBOARD_TOKEN": "t0k"}
AUTH = {"Authorization": "Bearer t0k"}
OCTETS = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(results=tmp_path / "results", state=tmp_path / "state", max_model_mb=0.05,
                    dashboard=DashboardSettings(port=0))


@pytest.fixture
def model(real_models: dict[str, Path]) -> bytes:
    return real_models["micro_kws_xs_yesno_quantized"].read_bytes()  # 10.7 kB: under the tests' 50 kB limit


@pytest.fixture
def queue(pg_url: str) -> Iterator[Queue]:
    with migrated(pg_url) as q:
        yield q


def serving(settings: Settings, store: Store, queue: Queue | None, env: dict[str, str]) -> DashboardServer:
    return DashboardServer(settings, store, env=env, queue=queue, submit=submitter(settings, queue)).start()


@pytest.fixture
def dashboard(settings: Settings, store: Store, queue: Queue) -> Iterator[httpx.Client]:
    server = serving(settings, store, queue, TOKEN)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            yield client
    finally:
        server.stop()


def uploads_left(settings: Settings) -> list[Path]:
    return list((settings.state / "uploads").glob("*/*"))


@pytest.mark.pg
def test_post_runs_queues_the_model_in_the_shared_queue(dashboard: httpx.Client, queue: Queue, model: bytes,
                                                        settings: Settings) -> None:
    r = dashboard.post("/runs", params={"name": "kws.tflite"}, content=model, headers={**AUTH, **OCTETS})
    assert r.status_code == 201, r.text
    answer = r.json()
    workflow = load_workflow(find_workflow("microkws", settings.pipelines_dir), actions.ACTIONS)
    assert answer["jobs"] == len(plan(workflow)) and answer["model_sha256"] == hashlib.sha256(model).hexdigest()
    run = queue.run(answer["run"])
    assert run is not None and run["model_name"] == "kws.tflite" and run["state"] == "queued"
    assert run["submitted_by"] == "dashboard@127.0.0.1" and run["model_size"] == len(model)
    assert run["pipeline_file"].endswith("microkws.yml")
    assert [j.name for j in queue.jobs(answer["run"])] == [j.name for j in plan(workflow)]
    assert queue.get_blob(answer["model_sha256"]) == model
    picked = dashboard.post("/runs", params={"name": "kws2.tflite", "pipeline": "virt-bench"}, content=model,
                            headers=AUTH)  # no Content-Type: the bytes are the model too
    assert picked.status_code == 201, picked.text
    assert (queue.run(picked.json()["run"]) or {})["pipeline_file"].endswith("virt-bench.yml")
    assert uploads_left(settings) == []


@pytest.mark.pg
def test_post_runs_needs_the_api_token_in_the_authorization_header(dashboard: httpx.Client, queue: Queue,
                                                                   model: bytes) -> None:
    def post(**kwargs: object) -> httpx.Response:
        return dashboard.post("/runs", content=model, **kwargs)  # type: ignore[arg-type]

    assert post(params={"name": "kws.tflite"}).status_code == 401
    assert post(params={"name": "kws.tflite"}, headers={"Authorization": "Bearer nope"}).status_code == 401
    by_query = post(params={"name": "kws.tflite", "token": "t0k"})
    assert by_query.status_code == 401 and "Authorization: Bearer" in by_query.json()["error"]
    assert "benchd_token" in dashboard.cookies, "?token= let it through the gate and set the page's cookie"
    assert post(params={"name": "kws.tflite"}).status_code == 401, "the page's cookie is no API token"
    assert queue.runs() == []
    assert post(params={"name": "kws.tflite"}, headers=AUTH).status_code == 201


@pytest.mark.pg
def test_post_runs_is_refused_without_a_configured_token_even_on_loopback(settings: Settings, store: Store,
                                                                          queue: Queue, model: bytes) -> None:
    server = serving(settings, store, queue, {})
    try:
        r = httpx.post(server.url + "/runs", params={"name": "kws.tflite"}, content=model, headers=AUTH)
    finally:
        server.stop()
    assert r.status_code == 403
    assert "set BENCHD_DASHBOARD_TOKEN" in r.json()["error"] and "Authorization: Bearer" in r.json()["error"]
    assert queue.runs() == []


@pytest.mark.pg
def test_post_runs_refuses_a_body_over_max_model_mb(dashboard: httpx.Client, queue: Queue, model: bytes,
                                                    settings: Settings) -> None:
    big = model + bytes(60_000)  # over 0.05 MB
    declared = dashboard.post("/runs", params={"name": "big.tflite"}, content=big, headers=AUTH)
    assert declared.status_code == 413 and "over the limit of 0.05 MB (max_model_mb)" in declared.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 8192):
            yield big[start:start + 8192]

    streamed = dashboard.post("/runs", params={"name": "big.tflite"}, content=chunks(), headers=AUTH)
    assert streamed.status_code == 413
    assert queue.runs() == [] and uploads_left(settings) == []


@pytest.mark.pg
def test_post_runs_says_why_a_body_is_not_a_model(dashboard: httpx.Client, queue: Queue, settings: Settings) -> None:
    r = dashboard.post("/runs", params={"name": "notes.tflite"}, content=b"these are my notes, not a model\n",
                       headers={**AUTH, **OCTETS})
    assert r.status_code == 422
    assert r.json()["error"].startswith("notes.tflite is not a TFLite flatbuffer (no 'TFL3' identifier at byte 4)")
    empty = dashboard.post("/runs", params={"name": "kws.tflite"}, content=b"", headers=AUTH)
    assert empty.status_code == 422 and "the body is empty" in empty.json()["error"]
    form = dashboard.post("/runs", params={"name": "kws.tflite"}, data={"model": "x"}, headers=AUTH)
    assert form.status_code == 415 and "--data-binary" in form.json()["error"]
    assert queue.runs() == [] and uploads_left(settings) == []


@pytest.mark.pg
def test_post_runs_takes_a_pipeline_name_never_a_path(dashboard: httpx.Client, queue: Queue, model: bytes,
                                                      tmp_path: Path) -> None:
    evil = tmp_path / "evil.yml"
    evil.write_text("name: evil\njobs: {}\n")
    for pipeline in (str(evil), "../pipelines/microkws", "sub/microkws", "microkws.yml", "x.YAML", "..", "a\\b"):
        r = dashboard.post("/runs", params={"name": "kws.tflite", "pipeline": pipeline}, content=model, headers=AUTH)
        assert r.status_code == 400, pipeline
        assert "must name a pipeline this daemon knows" in r.json()["error"]
    for name in ("../kws.tflite", "a/kws.tflite", ".hidden.tflite", ""):
        r = dashboard.post("/runs", params={"name": name}, content=model, headers=AUTH)
        assert r.status_code == 400 and "?name= must be the model's file name" in r.json()["error"], name
    unknown = dashboard.post("/runs", params={"name": "kws.tflite", "pipeline": "nosuch"}, content=model, headers=AUTH)
    assert unknown.status_code == 422 and "no pipeline named 'nosuch'" in unknown.json()["error"]
    assert queue.runs() == []


def test_post_runs_without_a_queue_is_not_found(settings: Settings, store: Store, model: bytes) -> None:
    server = serving(settings, store, None, TOKEN)
    try:
        r = httpx.post(server.url + "/runs", params={"name": "kws.tflite"}, content=model, headers=AUTH)
    finally:
        server.stop()
    assert r.status_code == 404 and "set [queue] url" in r.json()["error"]


def test_post_runs_answers_503_when_the_queue_stops_answering(settings: Settings, store: Store,
                                                               model: bytes) -> None:
    def unreachable(model: Path, pipeline: str | None, submitted_by: str, name: str) -> None:
        assert model.read_bytes() and model.name == "kws.tflite" and submitted_by == "dashboard@127.0.0.1"
        raise QueueUnavailable("the queue's PostgreSQL is unavailable: connection refused")

    server = DashboardServer(settings, store, env=TOKEN, submit=unreachable).start()  # type: ignore[arg-type]
    try:
        r = httpx.post(server.url + "/runs", params={"name": "kws.tflite"}, content=model, headers=AUTH)
    finally:
        server.stop()
    assert r.status_code == 503 and "connection refused" in r.json()["error"]
    assert list((settings.state / "uploads").iterdir()) == []


def test_upload_folders_a_dead_process_left_are_swept_at_start(settings: Settings, store: Store) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = settings.state / "uploads" / f"{dead.pid}-k1ll3d" / "kws.tflite"
    live = settings.state / "uploads" / f"{os.getpid()}-r3ce1v1ng" / "kws.tflite"  # another dashboard's, say
    for path in (left, live):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"TFL3")
    DashboardServer(settings, store, env={}).start().stop()
    assert not left.parent.exists() and live.exists()
