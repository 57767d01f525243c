"""Commit statuses against a local server that checks each request as GitHub's REST API would."""

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
from daemon.reporters.github import GithubReporter
from daemon.reporters.reporter import RunInfo
from daemon.settings import GithubSettings, ReportSettings, Settings

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


def test_pending_then_success_with_link_to_the_dashboard(github: FakeGithub, tmp_path: Path) -> None:
    reporter = GithubReporter(GithubSettings(api_url=github.url), {"GITHUB_TOKEN": TOKEN}, "http://bench:8737")
    reporter.on_start(run(tmp_path))
    reporter.report(run(tmp_path), record_of(sample_result("run-1")))
    assert [s["state"] for s in github.statuses] == ["pending", "success"]
    assert {s["context"] for s in github.statuses} == {"benchd"}
    assert github.statuses[1]["target_url"] == "http://bench:8737/#run=run-1"
    assert github.statuses[1]["description"].startswith("microkws: success in 42 s, host 1.25 ms, top-1 1.00")


def test_failure_names_the_failing_part_within_140_chars(github: FakeGithub, tmp_path: Path) -> None:
    reporter = GithubReporter(GithubSettings(api_url=github.url), {"GITHUB_TOKEN": TOKEN})
    long_error = [{"where": "compile-host", "message": "validate failed: " + "x" * 300}]
    reporter.report(run(tmp_path, {**SIDECAR, "context": "bench/c3"}),
                    record_of(sample_result("run-1", "failure", errors=long_error)))
    (status,) = github.statuses
    assert status["state"] == "failure" and status["context"] == "bench/c3" and "target_url" not in status
    assert "compile-host: validate failed" in status["description"] and len(status["description"]) <= 140


def test_missing_token_is_a_clear_error_without_any_request(github: FakeGithub, tmp_path: Path) -> None:
    reporter = GithubReporter(GithubSettings(api_url=github.url, token_env="BENCH_GH"), {})
    with pytest.raises(ReportError, match="set the environment variable BENCH_GH to a token"):
        reporter.report(run(tmp_path), record_of(sample_result("run-1")))
    assert github.statuses == []


def test_rejected_token_is_explained_and_never_logged(github: FakeGithub, tmp_path: Path) -> None:
    bad = "ghp_revoked_but_still_secret"
    reporter = GithubReporter(GithubSettings(api_url=github.url), {"GITHUB_TOKEN": bad})
    with capture_logs() as logs, pytest.raises(ReportError) as err:
        reporter.report(run(tmp_path), record_of(sample_result("run-1")))
    assert "HTTP 401 'Bad credentials'" in str(err.value) and "renew it" in str(err.value)
    assert bad not in str(err.value) and bad not in repr(logs)


def test_unknown_repository_is_explained(github: FakeGithub, tmp_path: Path) -> None:
    reporter = GithubReporter(GithubSettings(api_url=github.url), {"GITHUB_TOKEN": TOKEN})
    with pytest.raises(ReportError, match="HTTP 404 .*check repo/sha in the sidecar"):
        reporter.on_start(run(tmp_path, {"repo": "other/repo", "sha": SHA}))


def test_no_sidecar_or_a_malformed_one_posts_nothing(github: FakeGithub, tmp_path: Path) -> None:
    reporter = GithubReporter(GithubSettings(api_url=github.url), {})  # no token needed when nothing is posted
    for sidecar in ({}, {"_error": "kws.tflite.json: not valid JSON"}):
        reporter.on_start(run(tmp_path, sidecar))
        reporter.report(run(tmp_path, sidecar), record_of(sample_result("run-1")))
    assert github.statuses == []


def test_unreachable_api_is_a_report_error(tmp_path: Path) -> None:
    from report_fixtures import free_port

    reporter = GithubReporter(GithubSettings(api_url=f"http://127.0.0.1:{free_port()}"), {"GITHUB_TOKEN": TOKEN})
    with pytest.raises(ReportError, match="unreachable .*api_url"):
        reporter.report(run(tmp_path), record_of(sample_result("run-1")))


def test_a_rejected_token_leaves_the_runs_status_alone(github: FakeGithub, tmp_path: Path, monkeypatch) -> None:
    """Through the run's journal: the error lands in the record's errors, the status stays."""
    from daemon.record import Journal, RunFinished, RunStarted
    from daemon.reporters.files import FilesReporter
    from daemon.reporters.registry import build_reporters
    from daemon.reporters.reporter import JournalReporter
    from daemon.store.db import Store

    monkeypatch.setenv("GITHUB_TOKEN", "ghp_wrong")
    settings = Settings(report=ReportSettings(github=GithubSettings(api_url=github.url), junit=True))
    store = Store(tmp_path / "benchd.sqlite3")
    try:
        record = record_of(sample_result("run-1"))
        journal = Journal([*(JournalReporter(r, run(tmp_path)) for r in build_reporters(settings, store)),
                           FilesReporter(tmp_path)])
        journal.emit(RunStarted("run-1", record.model, record.pipeline, 0.0))
        journal.emit(RunFinished("success", 1.0, 1.0))
    finally:
        store.close()
    written = json.loads((tmp_path / "result.json").read_text())
    assert written["status"] == "success"
    assert [e["where"] for e in written["errors"]] == ["report/github"]
    assert "Bad credentials" in written["errors"][0]["message"]
    assert (tmp_path / "junit.xml").is_file(), "the other reporters still ran"
