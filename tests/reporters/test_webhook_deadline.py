"""A slow webhook receiver beside a fast one (issue 12): real HTTP servers on 127.0.0.1.

The slow one reads the request, then answers one byte at a time (the status line included), so no
socket timeout ever fires; only an overall deadline per attempt ends it. The fast one must get its
deliveries, in order, while the slow one is still dripping.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from daemon.reporters.delivery import DeliveryWorker
from daemon.reporters.webhook import webhook_lanes
from daemon.settings import WebhookSettings
from daemon.store.db import Store
from daemon.store.outbox import Outbox

SECRET = "s3cret-for-deadline-tests"
ENV = {"BENCHD_WEBHOOK_SECRET": SECRET}
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def body(run_id: str) -> bytes:
    return json.dumps({"schema": 1, "run_id": run_id, "status": "success"}).encode()


class Peer:
    """One endpoint on 127.0.0.1. The first `drips` connections get the answer one byte every `interval`
    seconds (at most the whole answer: the peer always stops by itself); later ones get it at once."""

    def __init__(self, drips: int = 0, interval: float = 0.25) -> None:
        self.drips, self.interval = drips, interval
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.stopping = threading.Event()
        self.seen: list[dict[str, Any]] = []  # one per connection: run_id, signed, accepted, closed, answered
        self.thread = threading.Thread(target=self._serve, name="test-peer", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def start(self) -> Peer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()
        assert not self.thread.is_alive()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        seen: dict[str, Any] = {"accepted": time.monotonic(), "closed": None, "answered": False}
        self.seen.append(seen)
        conn.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
        while len(rest) < int(headers.get("Content-Length", "0")):
            rest += conn.recv(65536)
        expected = "sha256=" + hmac.new(SECRET.encode(), rest, hashlib.sha256).hexdigest()
        seen.update(run_id=json.loads(rest)["run_id"], signed=headers.get("X-Benchd-Signature-256") == expected,
                    key=headers.get("Idempotency-Key"))
        if len(self.seen) > self.drips:
            conn.sendall(ANSWER)
            seen["answered"] = True
            return
        for i in range(len(ANSWER)):  # bounded: at most len(ANSWER) * interval seconds
            readable, _, _ = select.select([conn], [], [], self.interval)
            if readable and not conn.recv(1):  # the client hung up: when, is what the test measures
                seen["closed"] = time.monotonic()
                return
            if self.stopping.is_set():
                return
            try:
                conn.sendall(ANSWER[i:i + 1])
            except OSError:
                seen["closed"] = time.monotonic()
                return
        seen["answered"] = True

    def delivered(self) -> list[str]:
        return [s["run_id"] for s in self.seen if s["answered"] and s.get("signed")]


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = Store(tmp_path / "state" / "benchd.sqlite3")
    yield s
    s.close()


@pytest.fixture
def peers() -> Iterator[tuple[Peer, Peer]]:
    slow, fast = Peer(drips=1).start(), Peer().start()
    yield slow, fast
    slow.stop()
    fast.stop()


def test_a_slow_receiver_does_not_delay_a_fast_one_and_is_cut_at_the_deadline(store: Store, peers) -> None:
    slow_peer, fast_peer = peers
    slow = WebhookSettings(url=slow_peer.url, timeout_s=2.0)
    fast = WebhookSettings(url=fast_peer.url)
    outbox = Outbox(store)
    outbox.enqueue(slow.url, "run-1", body("run-1"))  # the slow endpoint's row is the oldest
    for run_id in ("run-1", "run-2"):
        outbox.enqueue(fast.url, run_id, body(run_id))
    worker = DeliveryWorker(store, webhook_lanes([slow, fast], ENV), backoff_s=0.3, max_backoff_s=1.0)
    with capture_logs() as logs:
        started = time.monotonic()
        worker.start()
        try:
            wait_for(lambda: fast_peer.delivered() == ["run-1", "run-2"], 2.0, "the fast endpoint's deliveries")
            fast_done = time.monotonic()
            first = wait_for(lambda: slow_peer.seen and slow_peer.seen[0], 2.0, "the slow endpoint's attempt")
            assert first["closed"] is None and not first["answered"], "the fast one is served while the slow drips"
            wait_for(lambda: slow_peer.delivered() == ["run-1"], 8.0, "the slow endpoint's retry")
        finally:
            worker.stop()
    assert fast_done - started < 2.0
    cut = first["closed"] - first["accepted"]
    assert 1.7 < cut < 3.5, f"the dripping attempt must end at timeout_s = 2, not after {cut:.2f} s"
    assert len(slow_peer.seen) == 2 and slow_peer.seen[1]["accepted"] - first["closed"] >= 0.25, "retried after backoff"
    assert all(s["signed"] and s["key"] == s["run_id"] for p in peers for s in p.seen)
    assert len(fast_peer.seen) == 2, "each fast delivery posted once"
    rows = {(d.endpoint, d.run_id): d for d in Outbox(store).all()}
    assert all(d.state == "delivered" for d in rows.values())
    assert rows[(slow.url, "run-1")].attempts == 2
    failed = [e for e in logs if e["event"] == "webhook attempt failed"]
    assert len(failed) == 1 and "no complete answer within timeout_s = 2" in failed[0]["error"]


def test_drain_serves_the_fast_endpoint_while_the_slow_one_drips(store: Store, peers) -> None:
    slow_peer, fast_peer = peers
    slow = WebhookSettings(url=slow_peer.url, timeout_s=1.5)
    fast = WebhookSettings(url=fast_peer.url)
    Outbox(store).enqueue(slow.url, "run-1", body("run-1"))
    Outbox(store).enqueue(fast.url, "run-1", body("run-1"))
    worker = DeliveryWorker(store, webhook_lanes([slow, fast], ENV), backoff_s=30.0)  # no retry within the drain
    started = time.monotonic()
    try:
        pending = worker.drain(timeout_s=1.0)
    finally:
        worker.stop()
    took = time.monotonic() - started
    assert pending == 1, "the slow endpoint's delivery stays pending for `benchd watch`"
    assert fast_peer.delivered() == ["run-1"]
    assert fast_peer.seen[0]["accepted"] - started < 1.0
    assert 1.3 < took < 3.5, f"drain waits for the attempt begun in time, cut at its deadline: {took:.2f} s"
    row = Outbox(store).heads([slow.url])[0]
    assert row.attempts == 1 and "no complete answer within timeout_s = 1.5" in (row.last_error or "")
