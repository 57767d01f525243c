"""Helpers for the reporter tests: hand-made runs in a store, and a local webhook receiver (127.0.0.1 only)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from daemon.record import RunRecord
from daemon.reporters.files import write_json
from daemon.store.db import Store

SECRET = "s3cret-for-tests"


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def sample_result(run_id: str, status: str = "success", **extra: Any) -> dict[str, Any]:
    """A result.json as ARCHITECTURE.md §4 describes it."""
    result = {
        "schema": 1, "run_id": run_id, "status": status,
        "model": {"name": "kws.tflite", "sha256": "ab" * 32, "size": 18_000, "inputs": [], "outputs": [],
                  "operators": ["CONV_2D", "FULLY_CONNECTED"]},
        "pipeline": {"name": "microkws", "file": "pipelines/microkws.yml", "sha256": "cd" * 32},
        "started_at": "2025-01-01T10:00:00.000+00:00", "finished_at": "2025-01-01T10:00:42.000+00:00",
        "duration_s": 42.0,
        "jobs": [
            {"id": "inspect", "status": "success", "executor": "local", "image": None, "outputs": {},
             "steps": [{"id": "info", "status": "success", "duration_s": 0.4, "exit_code": 0, "error": None}]},
            {"id": "compile-host", "status": status, "executor": "docker",
             "image": {"ref": "benchd/tvm", "digest": "sha256:" + "e" * 64}, "outputs": {},
             "steps": [{"id": "compile", "status": "success", "duration_s": 20.5, "exit_code": 0, "error": None},
                       {"id": "validate", "status": "success" if status == "success" else "failure",
                        "duration_s": 3.1, "exit_code": 0 if status == "success" else 1,
                        "error": None if status == "success" else "top-1 agreement 0.60 < 0.95",
                        "log": "logs/compile-host/2-validate.log"}]},
        ],
        "metrics": {"host": {"latency_ms": 1.25, "max_abs_diff": 1, "top1_agreement": 1.0},
                    "boards": [{"id": "A0B1C2", "port": "socket://127.0.0.1:5555", "chip": "ESP32-C3",
                                "mac": "a0:b1:c2:00:00:01", "flash_s": 4.2, "cycles_per_inference": 123456,
                                "top": [[3, 125]]}]},
        "errors": [] if status == "success" else [{"where": "compile-host", "message": "validate failed"}],
    }
    result.update(extra)
    return result


def metrics(latency: float, diff: int, instructions: int | None = None, arena: int | None = None,
            outputs: list[list[int]] | None = None) -> dict[str, Any]:
    """Figures of a run as the actions record them: host, boards, and the backend and virtual core on request."""
    m: dict[str, Any] = {"host": {"latency_ms": latency, "max_abs_diff": diff, "top1_agreement": 1.0},
                         "boards": [{"id": "A0B1C2", "port": "socket://127.0.0.1:5555", "chip": "ESP32-C3",
                                     "flash_s": 4.2, "cycles_per_inference": 123456, "outputs": [[1, 2, 3]]}]}
    if arena is not None:
        m["reference_c"] = {"arena_bytes": arena, "arena_lower_bound_bytes": arena, "constants_bytes": 17000,
                            "operators": 5}
    if instructions is not None:
        m["virtual"] = {"backend": "reference-c", "instructions": instructions, "rom_bytes": 48_000,
                        "ram_bytes": 21_000, "arena_bytes": arena, "vectors": 3, "bit_exact": 3,
                        "outputs": outputs or [[0, 1], [2, 3], [4, 5]]}
    return m


def record_of(result: dict[str, Any]) -> RunRecord:
    """A sample result as the typed record reporters receive."""
    return RunRecord.from_dict(result)


def make_run(store: Store, results: Path, status: str = "success", model: str = "kws.tflite",
             finished: bool = True, **result: Any) -> tuple[str, Path]:
    """A run in the store with its jobs and steps, and (when finished) its result.json (`result`: keys
    that replace the sample's, e.g. metrics=)."""
    run_id = store.add_run(model_name=model, model_path=f"/state/{model}", drop_path=f"/inbox/{model}",
                           sha256="ab" * 32, size=18_000, pipeline="pipelines/microkws.yml", status="running",
                           started_at=time.time() - 42)
    folder = results / Path(model).stem / run_id
    log_dir = folder / "logs" / "compile-host"
    log_dir.mkdir(parents=True)
    t0 = time.time() - 40
    store.set_job(run_id, "inspect", status="success", executor="local", started_at=t0, finished_at=t0 + 0.4)
    store.set_step(run_id, "inspect", 0, step_id="info", status="success", exit_code=0, started_at=t0,
                   finished_at=t0 + 0.4, log_path=str(folder / "logs" / "inspect" / "1-info.log"))
    store.set_job(run_id, "compile-host", status="running", executor="docker", image_ref="benchd/tvm",
                  started_at=t0 + 1)
    (log_dir / "1-compile.log").write_text("compiling kws.tflite\n")
    store.set_step(run_id, "compile-host", 0, step_id="compile", status="running", started_at=t0 + 1,
                   log_path=str(log_dir / "1-compile.log"))
    if finished:
        store.set_step(run_id, "compile-host", 0, status="success", exit_code=0, finished_at=t0 + 21)
        store.set_job(run_id, "compile-host", status=status, finished_at=t0 + 25)
        write_json(folder / "result.json", sample_result(run_id, status, **result))
        store.finish_run(run_id, status, None if status == "success" else "compile-host: validate failed", folder)
    return run_id, folder


# -- a webhook receiver ----------------------------------------------------------------------------
@dataclass
class Receiver:
    """Answers with the next scripted action ('ok', an HTTP status, or 'hang'), then 200 forever."""

    secret: str = SECRET
    script: list[Any] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                expected = "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                signed = hmac.compare_digest(self.headers.get("X-Benchd-Signature-256", ""), expected)
                action = receiver.script.pop(0) if receiver.script else "ok"
                receiver.received.append({"run_id": json.loads(body)["run_id"], "signed": signed,
                                          "key": self.headers.get("Idempotency-Key"), "action": action,
                                          "at": time.monotonic()})
                if action == "hang":
                    receiver.release.wait(15)
                    return
                code = 200 if action == "ok" else int(action)
                if not signed:
                    code = 401  # as a real receiver would: never accept an unsigned body
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(5)

    def accepted(self) -> list[str]:
        """Run ids acknowledged with a 2xx (signed and not scripted to fail)."""
        return [r["run_id"] for r in self.received if r["signed"] and r["action"] == "ok"]


def free_port() -> int:
    """A port nobody listens on (yet): an endpoint that is down."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- fixtures (registered in the root conftest's pytest_plugins, for reporters, views and web tests) ---------
@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "state" / "benchd.sqlite3")
    yield s
    s.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()
