"""The shared queue's SQL against a real PostgreSQL: routing by labels, fenced leases, the reaper, board
health, round-robin across models, and a schema that refuses a board leased twice."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from daemon.store import pgschema
from daemon.store.postgres import Engine, QueueConflict
from daemon.store.queue import BoardSighting, NewJob, NewRun, Queue

pytestmark = pytest.mark.pg

HOST = ("host",)
C3 = ("board:esp32c3", "chip=ESP32-C3", "flash=4MB")


@pytest.fixture
def queue(pg_url: str) -> Iterator[Queue]:
    engine = Engine(pg_url)
    pgschema.migrate(engine)
    yield Queue(engine)
    engine.close()


def run(run_id: str, *jobs: NewJob, model: str = "m", max_attempts: int = 2) -> NewRun:
    return NewRun(run_id, f"{model}.tflite", model, 1, "p.yml", "p", jobs, max_attempts=max_attempts)


def board_job(*labels: str) -> NewJob:
    return NewJob("flash", 0, (), ("board:esp32c3", *labels))


def good_board(queue: Queue, host: str, board_id: str, *labels: str) -> None:
    queue.register_host(host, HOST, 1, "local")
    queue.sync_boards(host, [BoardSighting(board_id, "", C3 + labels, True)])
    queue.set_health(board_id, "good", "test")


def test_migrate_is_versioned_and_idempotent(queue: Queue) -> None:
    assert pgschema.version(queue.engine) == pgschema.LATEST
    assert pgschema.migrate(queue.engine) == (pgschema.LATEST, pgschema.LATEST)


def test_a_build_only_host_never_leases_a_board_job(queue: Queue) -> None:
    queue.register_host("build", HOST, 1, "local")
    queue.submit(run("r1", board_job(), NewJob("inspect", 1, (), HOST)))
    first = queue.claim("build", HOST, 30)
    assert first is not None and first.name == "inspect"
    assert queue.claim("build", HOST, 30) is None  # the board job waits for a host with a board


def test_a_labelled_job_lands_only_on_the_board_with_that_label(queue: Queue) -> None:
    good_board(queue, "bench-a", "plain")
    good_board(queue, "bench-b", "mic", "sensor=mic")
    queue.submit(run("r1", board_job("sensor=mic")))
    assert queue.claim("bench-a", HOST, 30) is None
    claim = queue.claim("bench-b", HOST, 30)
    assert claim is not None and claim.board_id == "mic"


def test_a_new_board_runs_its_health_check_before_any_job(queue: Queue) -> None:
    queue.register_host("bench", HOST, 1, "local")
    queue.sync_boards("bench", [BoardSighting("b1", "", C3, True)])
    queue.submit(run("r1", board_job()))
    check = queue.claim("bench", HOST, 30)
    assert check is not None and check.health_check_of == "b1" and check.run_id is None
    assert queue.claim("bench", HOST, 30) is None  # the board is leased to its check
    assert queue.finish_health_check(check, True, "3 of 3 lines as expected")
    job = queue.claim("bench", HOST, 30)
    assert job is not None and job.name == "flash" and job.board_id == "b1"
    assert [h["health"] for h in queue.health_log("b1")][:1] == ["good"]


def test_a_bad_board_gets_no_job(queue: Queue) -> None:
    queue.register_host("bench", HOST, 1, "local")
    queue.sync_boards("bench", [BoardSighting("bad", "", C3, True)])
    check = queue.claim("bench", HOST, 30)
    assert check is not None and queue.finish_health_check(check, False, "result line 1 differs")
    for n in range(20):
        queue.submit(run(f"r{n}", board_job()))
    assert queue.claim("bench", HOST, 30) is None
    assert next(b for b in queue.boards() if b["id"] == "bad")["health"] == "bad"


def test_a_lost_lease_changes_nothing_and_the_job_runs_again_as_attempt_2(queue: Queue) -> None:
    queue.register_host("a", HOST, 1, "local")
    queue.register_host("b", HOST, 2, "local")
    queue.submit(run("r1", NewJob("inspect", 0, (), HOST)))
    first = queue.claim("a", HOST, 0.5)
    assert first is not None and first.attempt == 1
    time.sleep(0.7)
    assert queue.claim("b", HOST, 30) is None  # not before the reaper
    reaped = queue.reap()
    assert [(r.job_id, r.requeued) for r in reaped] == [(first.job_id, True)]
    second = queue.claim("b", HOST, 30)
    assert second is not None and second.attempt == 2 and second.host == "b"
    assert not queue.renew(first, 30)
    assert not queue.finish(first, "success", {"from": "a"}, None)  # fenced: 0 rows
    assert queue.finish(second, "success", {"from": "b"}, None)
    [job] = queue.jobs("r1")
    assert (job.status, job.result, job.attempt, job.host) == ("success", {"from": "b"}, 2, "b")
    attempts = queue.attempts("r1")
    assert [(a["attempt"], a["host"], a["outcome"], a["kind"]) for a in attempts] == [
        (1, "a", "expired", "infra"), (2, "b", "success", None)]


def test_out_of_attempts_ends_error_with_kind_infra_and_the_board_unknown(queue: Queue) -> None:
    good_board(queue, "bench", "b1")
    queue.submit(run("r1", board_job(), max_attempts=1))
    claim = queue.claim("bench", HOST, 0.2)
    assert claim is not None and claim.board_id == "b1"
    time.sleep(0.4)
    [reaped] = queue.reap()
    assert not reaped.requeued
    [job] = queue.jobs("r1")
    assert job.status == "error" and job.result["errors"][0]["kind"] == "infra"
    assert next(b for b in queue.boards() if b["id"] == "b1")["health"] == "unknown"
    check = queue.claim("bench", HOST, 30)
    assert check is not None and check.health_check_of == "b1"


def test_a_board_cannot_be_leased_twice_at_once_even_by_hand(queue: Queue) -> None:
    good_board(queue, "bench", "b1")
    queue.submit(run("r1", board_job()))
    assert queue.claim("bench", HOST, 30) is not None
    with pytest.raises(QueueConflict, match="exclusion constraint"):
        with queue.engine.transaction() as cur:
            cur.execute("INSERT INTO board_leases VALUES ('b1', 999, 1, 'x', tstzrange(now(), NULL))")
    assert queue.double_bookings() == 0


def test_one_models_flood_does_not_starve_another_model(queue: Queue) -> None:
    queue.register_host("h", HOST, 1, "local")
    for n in range(50):
        queue.submit(run(f"a{n:02}", NewJob("inspect", 0, (), HOST), model="A"))
    queue.submit(run("b00", NewJob("inspect", 0, (), HOST), model="B"))
    order = []
    for _ in range(3):
        claim = queue.claim("h", HOST, 30)
        assert claim is not None
        order.append(claim.run_id)
    assert "b00" in order[:2]


def test_concurrent_claims_take_each_job_once(queue: Queue) -> None:
    for n in range(60):
        queue.submit(run(f"r{n:02}", NewJob("inspect", 0, (), HOST), model=f"m{n % 5}"))
    taken: list[str] = []
    lock = threading.Lock()

    def claimer(host: str) -> None:
        queue.register_host(host, HOST, 1, "local")
        while (claim := queue.claim(host, HOST, 30)) is not None:
            with lock:
                taken.append(str(claim.run_id))

    threads = [threading.Thread(target=claimer, args=(f"h{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(taken) == 60 and Counter(taken).most_common(1)[0][1] == 1


def test_blobs_round_trip_in_chunks_and_refuse_damage(queue: Queue) -> None:
    data = bytes(range(256)) * 5000  # 1.28 MB: two chunks
    sha = queue.put_blob(data)
    assert queue.get_blob(sha) == data
    with queue.engine.transaction() as cur:
        cur.execute("UPDATE blob_chunks SET data = 'x' WHERE sha256 = %s AND n = 1", (sha,))
    with pytest.raises(KeyError, match="damaged"):
        queue.get_blob(sha)


def test_slots_of_one_host_racing_for_one_board_never_fail_or_double_book(queue: Queue) -> None:
    good_board(queue, "bench", "b1")
    for n in range(150):
        queue.submit(run(f"r{n:02}", board_job()))
    finished: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def slot() -> None:
        try:
            idle_since = time.monotonic()
            while time.monotonic() - idle_since < 2:
                claim = queue.claim("bench", HOST, 30)
                if claim is None:
                    continue
                idle_since = time.monotonic()
                assert queue.finish(claim, "success", {}, None)
                with lock:
                    finished.append(claim.job_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=slot) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and len(finished) == 150 and len(set(finished)) == 150
    assert queue.double_bookings() == 0


def test_retention_prunes_only_blobs_nothing_refers_to(queue: Queue) -> None:
    model, pipeline = queue.put_blob(b"model"), queue.put_blob(b"pipeline")
    workspace, log, lost = queue.put_blob(b"workspace"), queue.put_blob(b"log"), queue.put_blob(b"lost attempt")
    queue.register_host("h", HOST, 1, "local")
    queue.submit(NewRun("r1", "m.tflite", model, 5, "p.yml", pipeline, (NewJob("inspect", 0, (), HOST),)))
    claim = queue.claim("h", HOST, 30)
    assert claim is not None and queue.finish(claim, "success", {"logs": {"a.log": log}}, workspace)
    assert queue.prune_blobs() == 0  # a blob younger than an hour may belong to a job still finishing
    with queue.engine.transaction() as cur:
        cur.execute("UPDATE blobs SET created_at = now() - interval '2 hours'")
    assert queue.prune_blobs() == 1
    assert {queue.get_blob(s) for s in (model, pipeline, workspace, log)} == {b"model", b"pipeline", b"workspace",
                                                                              b"log"}
    with pytest.raises(KeyError):
        queue.get_blob(lost)


def test_a_board_passing_its_check_is_never_checked_twice_by_a_racing_slot(queue: Queue) -> None:
    queue.register_host("bench", HOST, 1, "local")
    checks = 0
    for n in range(15):  # each round: a new unknown board, one slot checks it while three others claim
        board = f"b{n}"
        queue.sync_boards("bench", [BoardSighting(board, "", C3, True)])
        check = queue.claim("bench", HOST, 30)
        assert check is not None and check.health_check_of == board
        stop = threading.Event()
        taken: list[object] = []

        def racer(stop: threading.Event, taken: list[object]) -> None:
            while not stop.is_set():
                if (claim := queue.claim("bench", HOST, 30)) is not None:
                    taken.append(claim)

        racers = [threading.Thread(target=racer, args=(stop, taken)) for _ in range(3)]
        for t in racers:
            t.start()
        time.sleep(0.05)
        assert queue.finish_health_check(check, True, "3 of 3 lines as expected")
        time.sleep(0.1)
        stop.set()
        for t in racers:
            t.join(timeout=30)
        checks += len(taken)
    assert checks == 0  # a good board with no jobs for it is left alone
