"""Commit statuses, queued in the outbox and sent by the delivery worker, against a local server that checks each
request as GitHub's REST API would."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import record_of, sample_result
from structlog.testing import capture_logs

from daemon.errors import ReportError
from daemon.reporters.delivery import DeliveryWorker
from daemon.reporters.github import GithubLane, GithubReporter
from daemon.reporters.reporter import RunInfo
from daemon.settings import GithubSettings, ReportSettings, Settings
from daemon.store.db import Store
from daemon.store.outbox import Outbox

TOKEN = "ghp_testtoken0123456789"
SHA = "0123456789abcdef0123456789abcdef01234567"
SIDECAR = {"repo": "lab/kws-models", "sha": SHA}
PATH_RE = re.compile(r"^/repos/([A-Za-z0-9-]+)/([A-Za-z0-9._-]+)/statuses/([0-9a-f]{40})$")


class FakeGithub:
    """The parts of the statuses endpoint benchd relies on, with GitHub's answers to bad requests."""

    def __init__(self) -> None:
        self.statuses: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                code, answer = fake.check(self.path, dict(self.headers.items()),
                                          self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def check(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        h = {k.lower(): v for k, v in headers.items()}
        if not h.get("user-agent"):
            return 403, {"message": "Request forbidden by administrative rules. Please make sure your request "
                                    "has a User-Agent header"}
        if h.get("authorization") not in (f"Bearer {TOKEN}", f"token {TOKEN}"):
            return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        media = h.get("accept") == "application/vnd.github+json"
        if h.get("x-github-api-version") not in (None, "2022-11-28") or not media:
            return 400, {"message": "unsupported API version or media type"}
        match = PATH_RE.match(path)
        if not match or f"{match[1]}/{match[2]}" != SIDECAR["repo"]:
            return 404, {"message": "Not Found"}
        if not h.get("content-type", "").startswith("application/json"):
            return 415, {"message": "Unsupported Media Type"}
        status = json.loads(body)
        description = status.get("description", "")
        problems = [key for key, ok in (
            ("state", status.get("state") in ("error", "failure", "pending", "success")),
            ("description", isinstance(description, str) and len(description) <= 140),
            ("target_url", re.match(r"^https?://", status.get("target_url", "http://")) is not None),
            ("context", isinstance(status.get("context", "default"), str)),
        ) if not ok]
        if problems or set(status) - {"state", "description", "target_url", "context"}:
            return 422, {"message": "Validation Failed", "errors": problems}
        self.statuses.append(status)
        return 201, {"id": len(self.statuses), "state": status["state"], "context": status.get("context", "default")}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def github() -> Iterator[FakeGithub]:
    fake = FakeGithub()
    yield fake
    fake.stop()


def run(tmp_path: Path, sidecar: dict[str, Any] | None = None) -> RunInfo:
    return RunInfo("run-1", "kws.tflite", "ab" * 32, tmp_path, dict(SIDECAR) if sidecar is None else sidecar)


def deliver(store: Store, settings: GithubSettings, env: dict[str, str], timeout_s: float = 5.0) -> int:
    """What `benchd watch`'s delivery worker does, in the test's own time: returns how many stay pending."""
    worker = DeliveryWorker(store, [GithubLane(settings, env)], backoff_s=0.05, max_backoff_s=0.1)
    try:
        return worker.drain(timeout_s)
    finally:
        worker.stop()


def test_pending_then_success_with_link_to_the_dashboard(github: FakeGithub, store: Store, tmp_path: Path) -> None:
    settings = GithubSettings(api_url=github.url)
    reporter = GithubReporter(settings, store, {"GITHUB_TOKEN": TOKEN}, "http://bench:8737")
    reporter.on_start(run(tmp_path))
    reporter.report(run(tmp_path), record_of(sample_result("run-1")))
    assert github.statuses == [], "queued by the run, sent by the delivery worker"
    assert deliver(store, settings, {"GITHUB_TOKEN": TOKEN}) == 0
    assert [s["state"] for s in github.statuses] == ["pending", "success"]
    assert {s["context"] for s in github.statuses} == {"benchd"}
    assert github.statuses[1]["target_url"] == "http://bench:8737/#run=run-1"
    assert github.statuses[1]["description"].startswith("microkws: success in 42 s, host 1.25 ms, top-1 1.00")
    assert [d.state for d in Outbox(store).of_run("run-1")] == ["delivered", "delivered"]


def test_failure_names_the_failing_part_within_140_chars(github: FakeGithub, store: Store, tmp_path: Path) -> None:
    settings = GithubSettings(api_url=github.url)
    reporter = GithubReporter(settings, store, {"GITHUB_TOKEN": TOKEN})
    long_error = [{"where": "compile-host", "message": "validate failed: " + "x" * 300}]
    reporter.report(run(tmp_path, {**SIDECAR, "context": "bench/c3"}),
                    record_of(sample_result("run-1", "failure", errors=long_error)))
    deliver(store, settings, {"GITHUB_TOKEN": TOKEN})
    (status,) = github.statuses
    assert status["state"] == "failure" and status["context"] == "bench/c3" and "target_url" not in status
    assert "compile-host: validate failed" in status["description"] and len(status["description"]) <= 140


def test_missing_token_is_a_clear_error_and_nothing_is_queued(store: Store, tmp_path: Path) -> None:
    reporter = GithubReporter(GithubSettings(token_env="BENCH_GH"), store, {})
    with pytest.raises(ReportError, match="set the environment variable BENCH_GH to a token"):
        reporter.report(run(tmp_path), record_of(sample_result("run-1")))
    assert Outbox(store).all() == []


def test_rejected_token_is_explained_given_up_and_never_logged(github: FakeGithub, store: Store,
                                                               tmp_path: Path) -> None:
    bad = "ghp_revoked_but_still_secret"
    settings = GithubSettings(api_url=github.url)
    GithubReporter(settings, store, {"GITHUB_TOKEN": bad}).report(run(tmp_path), record_of(sample_result("run-1")))
    with capture_logs() as logs:
        assert deliver(store, settings, {"GITHUB_TOKEN": bad}) == 0, "a refused token is not retried"
    (row,) = Outbox(store).of_run("run-1")
    assert row.state == "gave_up" and row.attempts == 1 and row.last_status == 401
    assert "HTTP 401 'Bad credentials'" in (row.last_error or "") and "renew it" in (row.last_error or "")
    assert any(e["event"] == "github status delivery given up" for e in logs)
    assert bad not in repr(logs) and bad not in repr(row)
    files = [p for p in store.path.parent.iterdir() if p.name.startswith(store.path.name)]  # with -wal, -shm
    assert files and not any(bad.encode() in p.read_bytes() for p in files), "the token is never stored"


def test_unknown_repository_is_explained(github: FakeGithub, store: Store, tmp_path: Path) -> None:
    settings = GithubSettings(api_url=github.url)
    GithubReporter(settings, store, {"GITHUB_TOKEN": TOKEN}).on_start(run(tmp_path, {"repo": "other/repo",
                                                                                     "sha": SHA}))
    deliver(store, settings, {"GITHUB_TOKEN": TOKEN})
    (row,) = Outbox(store).of_run("run-1")
    assert row.state == "gave_up" and re.search(r"HTTP 404 .*check repo/sha in the sidecar", row.last_error or "")


def test_no_sidecar_or_a_malformed_one_posts_nothing(github: FakeGithub, store: Store, tmp_path: Path) -> None:
    reporter = GithubReporter(GithubSettings(api_url=github.url), store, {})  # no token needed: nothing to post
    for sidecar in ({}, {"_error": "kws.tflite.json: not valid JSON"}):
        reporter.on_start(run(tmp_path, sidecar))
        reporter.report(run(tmp_path, sidecar), record_of(sample_result("run-1")))
    assert Outbox(store).all() == [] and github.statuses == []


def test_unreachable_api_is_retried_and_stays_pending(store: Store, tmp_path: Path) -> None:
    from report_fixtures import free_port

    settings = GithubSettings(api_url=f"http://127.0.0.1:{free_port()}")
    GithubReporter(settings, store, {"GITHUB_TOKEN": TOKEN}).report(run(tmp_path), record_of(sample_result("run-1")))
    assert deliver(store, settings, {"GITHUB_TOKEN": TOKEN}, timeout_s=0.5) == 1, "left for benchd watch"
    (row,) = Outbox(store).of_run("run-1")
    assert row.state == "pending" and row.attempts >= 2 and "ConnectError" in (row.last_error or "")


def test_a_rejected_token_leaves_the_runs_result_alone(github: FakeGithub, tmp_path: Path, monkeypatch) -> None:
    """Through the run's journal: the status is only queued, result.json and the other reporters are written
    at once; GitHub's refusal is recorded on the delivery, not on the run."""
    from daemon.record import Journal, RunFinished, RunStarted
    from daemon.reporters.files import FilesReporter
    from daemon.reporters.registry import build_reporters, flush_deliveries
    from daemon.reporters.reporter import JournalReporter

    monkeypatch.setenv("GITHUB_TOKEN", "ghp_wrong")
    settings = Settings(report=ReportSettings(github=GithubSettings(api_url=github.url), junit=True))
    store = Store(tmp_path / "benchd.sqlite3")
    try:
        record = record_of(sample_result("run-1"))
        journal = Journal([*(JournalReporter(r, run(tmp_path)) for r in build_reporters(settings, store)),
                           FilesReporter(tmp_path)])
        journal.emit(RunStarted("run-1", record.model, record.pipeline, 0.0))
        journal.emit(RunFinished("success", 1.0, 1.0))
        written = json.loads((tmp_path / "result.json").read_text())
        assert written["status"] == "success" and written["errors"] == []
        assert (tmp_path / "junit.xml").is_file(), "the other reporters ran"
        assert flush_deliveries(settings, store, timeout_s=5) == 0
        assert [d.state for d in Outbox(store).of_run("run-1")] == ["gave_up", "gave_up"]
    finally:
        store.close()
