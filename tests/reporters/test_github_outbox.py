"""GitHub commit statuses go through the durable outbox: a GitHub that hangs delays neither the run's other
reporters nor the next run, and each status arrives, in order, once GitHub answers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import record_of, sample_result, wait_for

from daemon.reporters.reporter import RunInfo
from daemon.settings import GithubSettings
from daemon.store.db import Store
from daemon.store.outbox import Outbox

pytestmark = pytest.mark.timeout(180)
TOKEN = "ghp_outboxtoken0123456789"
SHA_A, SHA_B = "a" * 40, "b" * 40
PIPELINE = """\
name: quick
on:
  model_dropped: { paths: ["*.tflite"] }
jobs:
  work:
    steps:
      - run: "true"
"""


class HangingGithub:
    """A statuses endpoint that holds every request until `release` is set, then answers 201."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.statuses: list[dict[str, Any]] = []  # in the order answered
        self.arrived: list[float] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                fake.arrived.append(time.time())
                if self.headers.get("Authorization") != f"Bearer {TOKEN}" or not self.headers.get("User-Agent"):
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if not fake.release.wait(60):
                    return
                fake.statuses.append({"sha": self.path.rsplit("/", 1)[-1], **body, "answered_at": time.time()})
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a request the client gave up on (its attempt's deadline) cannot be answered: expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def states(self, sha: str) -> list[str]:
        return [s["state"] for s in self.statuses if s["sha"] == sha]

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def github() -> Iterator[HangingGithub]:
    fake = HangingGithub()
    yield fake
    fake.stop()


def drop(inbox: Path, model: Path, name: str, sha: str) -> None:
    (inbox / f"{name}.tflite.json").write_text(json.dumps({"repo": "lab/kws-models", "sha": sha}))
    shutil.copy(model, inbox / f"{name}.tflite.part")
    (inbox / f"{name}.tflite.part").rename(inbox / f"{name}.tflite")


def test_a_hanging_github_delays_no_run_and_gets_its_statuses_when_it_answers(samples, github: HangingGithub,
                                                                              tmp_path: Path) -> None:
    (tmp_path / "wf.yml").write_text(PIPELINE)
    (tmp_path / "inbox").mkdir()
    (tmp_path / "benchd.toml").write_text(f"""
inbox = "{tmp_path / 'inbox'}"
results = "{tmp_path / 'results'}"
state = "{tmp_path / 'state'}"
pipeline = "{tmp_path / 'wf.yml'}"
executor = "local"
stable_s = 0.2
[report.github]
api_url = "{github.url}"
""")
    env = {**os.environ, "BENCHD_CONFIG": str(tmp_path / "benchd.toml"), "GITHUB_TOKEN": TOKEN}
    watch = subprocess.Popen([sys.executable, "-m", "daemon", "watch"], env=env, cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        started = time.monotonic()
        drop(tmp_path / "inbox", samples["kws_xs.tflite"], "first", SHA_A)
        first = wait_for(lambda: next((tmp_path / "results").glob("first/*/result.json"), None), 60, "first result")
        drop(tmp_path / "inbox", samples["kws_float.tflite"], "second", SHA_B)
        second = wait_for(lambda: next((tmp_path / "results").glob("second/*/result.json"), None), 60,
                          "second result")
        both_s = time.monotonic() - started
        # GitHub holds its first request the whole time: each status used to hold its run for 15 s
        assert both_s < 12, f"two runs took {both_s:.1f} s behind a hanging GitHub"
        wait_for(lambda: github.arrived, 10, "the first status sent")
        assert github.statuses == [], "GitHub holds it: nothing answered yet"
        for result_file in (first, second):
            result = json.loads(result_file.read_text())
            assert result["status"] == "success" and result["errors"] == []
            assert (result_file.parent / "junit.xml").is_file(), "the other reporters were not held up"

        github.release.set()
        for sha in (SHA_A, SHA_B):
            wait_for(lambda sha=sha: github.states(sha)[-1:] == ["success"], 40, "the final status")  # type: ignore[misc]
            assert github.states(sha)[0] == "pending", "pending first: one lane, in enqueue order"
    finally:
        watch.send_signal(signal.SIGTERM)
        _, stderr = watch.communicate(timeout=40)
    stored = [p for p in (tmp_path / "state").iterdir() if p.name.startswith("benchd.sqlite3")]
    assert stored and not any(TOKEN.encode() in p.read_bytes() for p in stored), "the token is never stored"
    assert TOKEN not in stderr.decode(errors="replace")


def info(run_id: str, sha: str, tmp_path: Path) -> RunInfo:
    return RunInfo(run_id, "kws.tflite", "ab" * 32, tmp_path / run_id, {"repo": "lab/kws-models", "sha": sha})


def test_statuses_are_queued_in_order_and_retried_until_github_answers(github: HangingGithub, tmp_path: Path) -> None:
    from daemon.reporters.delivery import DeliveryWorker
    from daemon.reporters.github import GithubLane, GithubReporter

    store = Store(tmp_path / "state" / "benchd.sqlite3")
    settings = GithubSettings(api_url=github.url)
    reporter = GithubReporter(settings, store, {"GITHUB_TOKEN": TOKEN})
    run = info("run-1", SHA_A, tmp_path)
    began = time.monotonic()
    reporter.on_start(run)
    reporter.report(run, record_of(sample_result("run-1")))
    assert time.monotonic() - began < 1.0, "queuing is one commit each, never an HTTP call"
    queued = Outbox(store).of_run("run-1")
    assert [d.event for d in queued] == ["status.pending", "status.final"]
    assert all(d.url == f"{github.url}/repos/lab/kws-models/statuses/{SHA_A}" for d in queued)
    assert all(TOKEN not in d.headers and TOKEN.encode() not in d.body for d in queued)

    lane = GithubLane(settings, {"GITHUB_TOKEN": TOKEN}, timeout_s=0.5)  # each attempt cut short while it hangs
    worker = DeliveryWorker(store, [lane], backoff_s=0.1, max_backoff_s=0.4).start()
    try:
        wait_for(lambda: Outbox(store).of_run("run-1")[0].attempts >= 2, 10, "retries while GitHub hangs")
        assert github.statuses == []
        github.release.set()
        wait_for(lambda: [d.state for d in Outbox(store).of_run("run-1")] == ["delivered", "delivered"], 20,
                 "both delivered once GitHub answers")
        assert github.states(SHA_A)[-1] == "success" and github.states(SHA_A)[0] == "pending"
    finally:
        worker.stop()
        store.close()
