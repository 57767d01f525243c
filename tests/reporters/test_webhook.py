"""The webhook reporter and its durable outbox, against a local receiver that verifies the signature."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_fixtures import SECRET, Receiver, free_port, record_of, sample_result, wait_for
from structlog.testing import capture_logs

from daemon.errors import ReportError
from daemon.reporters.delivery import DeliveryWorker
from daemon.reporters.reporter import RunInfo
from daemon.reporters.webhook import WebhookReporter, sign, webhook_lanes
from daemon.settings import WebhookSettings
from daemon.store.db import Store
from daemon.store.outbox import Outbox

ENV = {"BENCHD_WEBHOOK_SECRET": SECRET}
FAST = {"backoff_s": 0.05, "max_backoff_s": 0.2}  # retries in tens of milliseconds, not minutes


def info(run_id: str, tmp_path: Path) -> RunInfo:
    return RunInfo(run_id, "kws.tflite", "ab" * 32, tmp_path / "results" / run_id)


def report(store: Store, settings: WebhookSettings, run_id: str, tmp_path: Path) -> None:
    WebhookReporter(settings, store, ENV).report(info(run_id, tmp_path), record_of(sample_result(run_id)))


@pytest.fixture
def workers() -> Iterator[list[DeliveryWorker]]:
    started: list[DeliveryWorker] = []
    yield started
    for w in started:
        w.stop()


def start(workers: list[DeliveryWorker], store: Store, settings: WebhookSettings, **kw: float) -> DeliveryWorker:
    worker = DeliveryWorker(store, webhook_lanes([settings], ENV), **{**FAST, **kw}).start()
    workers.append(worker)
    return worker


def test_signature_is_github_style_hmac_over_the_exact_body() -> None:
    # the example from GitHub's "Validating webhook deliveries" documentation
    assert sign("It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")


def test_delivered_signed_with_idempotency_key(store: Store, receiver: Receiver, workers, tmp_path: Path) -> None:
    settings = WebhookSettings(url=receiver.url)
    start(workers, store, settings)
    report(store, settings, "run-1", tmp_path)
    wait_for(lambda: receiver.accepted() == ["run-1"], what="delivery")
    assert receiver.received[0]["key"] == "run-1"
    wait_for(lambda: Outbox(store).of_run("run-1")[0].state == "delivered", what="marked delivered")


def test_500_then_200_is_retried_then_delivered(store: Store, receiver: Receiver, workers, tmp_path: Path) -> None:
    receiver.script[:] = [500, 500]
    settings = WebhookSettings(url=receiver.url)
    start(workers, store, settings, backoff_s=0.3, max_backoff_s=3.0)  # waits of 0.3 s, then 0.6 s
    report(store, settings, "run-1", tmp_path)
    wait_for(lambda: receiver.accepted() == ["run-1"], what="delivery after two 500s")
    assert [r["action"] for r in receiver.received] == [500, 500, "ok"]
    gaps = [b["at"] - a["at"] for a, b in zip(receiver.received, receiver.received[1:], strict=False)]
    assert gaps[1] > gaps[0] * 1.3, f"backoff should grow: {gaps}"
    row = wait_for(lambda: [d for d in Outbox(store).of_run("run-1") if d.state == "delivered"])[0]
    assert row.attempts == 3 and row.last_status == 200


def test_endpoint_down_for_the_run_then_back_delivers_once_in_order(store: Store, workers, tmp_path: Path) -> None:
    port = free_port()
    settings = WebhookSettings(url=f"http://127.0.0.1:{port}/hook")
    start(workers, store, settings)
    for run_id in ("run-1", "run-2", "run-3"):  # three results queue up while the endpoint is down
        report(store, settings, run_id, tmp_path)
    wait_for(lambda: all(d.attempts >= 2 for d in Outbox(store).heads([settings.url])), what="failed attempts")
    assert "ConnectError" in (Outbox(store).of_run("run-1")[0].last_error or "")
    receiver = Receiver().start(port)
    try:
        wait_for(lambda: len(receiver.accepted()) == 3, what="all three delivered")
        time.sleep(0.5)  # several backoff periods: nothing may be posted again
        assert receiver.accepted() == ["run-1", "run-2", "run-3"]
        assert len(receiver.received) == 3
    finally:
        receiver.stop()


def test_hanging_endpoint_is_bounded_by_the_timeout(store: Store, receiver: Receiver, workers, tmp_path) -> None:
    receiver.script[:] = ["hang"]
    settings = WebhookSettings(url=receiver.url, timeout_s=0.5)
    start(workers, store, settings)
    report(store, settings, "run-1", tmp_path)
    wait_for(lambda: receiver.accepted() == ["run-1"], timeout=5, what="delivery after a hang")
    first, second = receiver.received[0]["at"], receiver.received[1]["at"]
    assert 0.45 < second - first < 2.0, "the hung attempt must end after timeout_s, then retry"
    row = wait_for(lambda: [d for d in Outbox(store).of_run("run-1") if d.state == "delivered"])[0]
    assert row.attempts == 2


def test_gives_up_after_max_age_and_records_why(store: Store, workers, tmp_path: Path) -> None:
    settings = WebhookSettings(url=f"http://127.0.0.1:{free_port()}/hook", max_age_hours=0.5 / 3600)
    with capture_logs() as logs:
        start(workers, store, settings)
        report(store, settings, "run-1", tmp_path)
        row = wait_for(lambda: [d for d in Outbox(store).of_run("run-1") if d.state == "gave_up"], what="give up")[0]
    assert "not acknowledged within max_age_hours" in (row.last_error or "")
    assert "ConnectError" in (row.last_error or "")
    assert any(e["event"] == "webhook delivery given up" for e in logs)


def test_a_run_is_queued_once_and_never_posted_again_after_2xx(store: Store, receiver, workers, tmp_path) -> None:
    settings = WebhookSettings(url=receiver.url)
    report(store, settings, "run-1", tmp_path)
    report(store, settings, "run-1", tmp_path)  # re-reported (e.g. after a restart mid-report): still one row
    assert len(Outbox(store).all()) == 1
    first = start(workers, store, settings)
    wait_for(lambda: receiver.accepted() == ["run-1"], what="delivery")
    first.stop()
    start(workers, store, settings).wake()  # a restarted daemon finds nothing pending
    time.sleep(0.3)
    assert len(receiver.received) == 1


def test_missing_secret_is_a_clear_error_and_nothing_is_queued(store: Store, tmp_path: Path) -> None:
    reporter = WebhookReporter(WebhookSettings(url="http://127.0.0.1:9/hooks/T000/SECRETPATH"), store, {})
    with pytest.raises(ReportError, match="set the environment variable BENCHD_WEBHOOK_SECRET") as err:
        reporter.report(info("run-1", tmp_path), record_of(sample_result("run-1")))
    assert "SECRETPATH" not in str(err.value), "a URL's path may be a credential: not in messages"
    assert Outbox(store).all() == []


def test_secret_never_logged(store: Store, receiver: Receiver, workers, tmp_path: Path) -> None:
    receiver.script[:] = [503]
    settings = WebhookSettings(url=receiver.url)
    with capture_logs() as logs:
        start(workers, store, settings)
        report(store, settings, "run-1", tmp_path)
        wait_for(lambda: receiver.accepted() == ["run-1"], what="delivery")
        # The receiver answers before the worker logs the delivery: wait for the log line itself.
        wait_for(lambda: any(e["event"] == "webhook delivered" for e in logs), what="the delivery's log line")
    assert {"webhook queued", "webhook attempt failed", "webhook delivered"} <= {e["event"] for e in logs}
    assert SECRET not in repr(logs)


def test_drain_delivers_in_the_callers_thread(store: Store, receiver: Receiver, tmp_path: Path) -> None:
    settings = WebhookSettings(url=receiver.url)
    report(store, settings, "run-1", tmp_path)
    worker = DeliveryWorker(store, webhook_lanes([settings], ENV), **FAST)
    try:
        assert worker.drain(timeout_s=5) == 0
    finally:
        worker.stop()
    assert receiver.accepted() == ["run-1"]
