"""The shared queue's commands against a real PostgreSQL: `db migrate`, `hosts`, `boards` (listing,
maintenance, retire, release), and `runs`, `show`, `logs` read from the queue."""

from __future__ import annotations

import io
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleet_rows import RUN_ID, migrated, run_across_two_hosts, seed_fleet, submit_run

from daemon import cli
from daemon.store import pgschema
from daemon.store.postgres import Engine
from daemon.store.queue import Claim, Queue
from daemon.views import fleet_runs


@pytest.fixture
def queue_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str) -> str:
    """benchd run from an empty folder (no benchd.toml) with BENCHD_QUEUE_URL naming the test's database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCHD_QUEUE_URL", pg_url)
    return pg_url


@pytest.fixture
def queue(queue_env: str) -> Iterator[Queue]:
    with migrated(queue_env) as q:
        seed_fleet(q)
        yield q


def benchd(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def line_of(text: str, *words: str) -> str:
    """The one line holding every word."""
    found = [line for line in text.splitlines() if all(w in line for w in words)]
    assert len(found) == 1, f"{words} in one line of:\n{text}"
    return found[0]


# -- db migrate -------------------------------------------------------------------------------------------
@pytest.mark.pg
def test_migrate_creates_the_schema_then_says_up_to_date(queue_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert benchd(capsys, "db", "migrate") == (0, f"queue schema: version 0 -> {pgschema.LATEST}\n", "")
    assert benchd(capsys, "db", "migrate") == (0, f"queue schema: up to date (version {pgschema.LATEST})\n", "")
    engine = Engine(queue_env)
    try:
        assert pgschema.version(engine) == pgschema.LATEST
    finally:
        engine.close()


@pytest.mark.pg
def test_a_queue_not_migrated_says_to_migrate(queue_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = benchd(capsys, "hosts")
    assert code == 2 and out == "" and "run `benchd db migrate`" in err


@pytest.mark.parametrize("argv", [["db", "migrate"], ["hosts"], ["boards", "maintenance", "A0B1C2"],
                                  ["boards", "retire", "A0B1C2"]])
def test_without_a_queue_url_fleet_commands_are_config_errors(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCHD_QUEUE_URL", raising=False)
    code, out, err = benchd(capsys, *argv)
    assert code == 2 and out == ""
    assert "needs the shared queue: set [queue] url" in err and "BENCHD_QUEUE_URL" in err


def test_an_unreachable_queue_says_where_without_the_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCHD_QUEUE_URL", f"postgresql://bench:pa%24%24word9@127.0.0.1:{port}/benchd")
    code, _, err = benchd(capsys, "hosts")
    assert code == 2
    assert f"cannot reach the queue at postgresql://bench:***@127.0.0.1:{port}/benchd" in err
    assert "refused" in err and "check [queue] url" in err
    assert "word9" not in err


# -- hosts and boards -------------------------------------------------------------------------------------
@pytest.mark.pg
def test_hosts_lists_every_host_with_labels_last_seen_and_running_jobs(queue: Queue,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    submit_run(queue)
    assert queue.claim("bench-a", ["host", "docker"], 30) is not None  # compile-host runs on bench-a
    code, out, _ = benchd(capsys, "hosts")
    assert code == 0
    assert re.fullmatch(r"bench-a\s+host,docker\s+\d+ s ago\s+1\s+docker", line_of(out, "bench-a"))
    assert re.fullmatch(r"bench-b\s+host\s+\d+ s ago\s+0\s+local", line_of(out, "bench-b"))
    code, out, _ = benchd(capsys, "hosts", "--json")
    rows = json.loads(out)
    assert [(h["name"], h["labels"], h["running"]) for h in rows] == [("bench-a", ["host", "docker"], 1),
                                                                      ("bench-b", ["host"], 0)]
    assert all(0 <= h["last_seen_s"] < 60 and h["last_seen"] for h in rows)


@pytest.mark.pg
def test_boards_lists_the_fleet_with_health_lease_and_last_check(queue: Queue,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    run_across_two_hosts(queue, finish=False)  # flash holds A0B1C2; D3E4F5 went unknown when given back
    code, out, _ = benchd(capsys, "boards")
    assert code == 0
    a = line_of(out, "A0B1C2")
    assert re.fullmatch(r"A0B1C2\s+bench-a\s+good\s+job \d+ on bench-a\s+\d+ s ago\s+yes\s+board:esp32c3,flash=4MB"
                        r"\s+health check passed", a), a
    d = line_of(out, "D3E4F5")
    assert re.fullmatch(r"D3E4F5\s+bench-b\s+unknown\s+-\s+\d+ s ago\s+yes\s+board:esp32c3\s+"
                        r"infra failure: board unplugged", d), d
    code, out, _ = benchd(capsys, "boards", "--json")
    rows = {b["id"]: b for b in json.loads(out)}
    assert rows["A0B1C2"]["lease"]["host"] == "bench-a" and rows["D3E4F5"]["lease"] is None
    assert rows["D3E4F5"]["health"] == "unknown" and rows["A0B1C2"]["present"] is True
    assert rows["A0B1C2"]["last_check"] is not None and rows["A0B1C2"]["labels"] == ["board:esp32c3", "flash=4MB"]


@pytest.mark.pg
def test_maintenance_retire_release_set_health_and_log_it(queue: Queue, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = benchd(capsys, "boards", "maintenance", "A0B1C2", "--reason", "reflowing the USB connector")
    assert code == 0 and out.startswith("board A0B1C2: maintenance (was good)")
    assert benchd(capsys, "boards", "retire", "A0B1C2")[0] == 0
    code, out, _ = benchd(capsys, "boards", "release", "A0B1C2")
    assert code == 0 and "unknown (was retired)" in out and "health check before its next job" in out
    health = {b["id"]: b["health"] for b in queue.boards()}
    assert health == {"A0B1C2": "unknown", "D3E4F5": "good"}  # the other board untouched
    log = queue.health_log("A0B1C2")
    assert [e["health"] for e in log] == ["unknown", "retired", "maintenance", "good"]
    assert log[2]["reason"] == "reflowing the USB connector"
    assert log[1]["reason"].startswith("`benchd boards retire` on ")
    # released means unknown: its next claim is a health check, not a job
    submit_run(queue)
    claim = queue.claim("bench-a", ["host"], 30)
    assert claim is not None and claim.health_check_of == "A0B1C2"


@pytest.mark.pg
def test_a_board_in_maintenance_takes_no_job(queue: Queue, capsys: pytest.CaptureFixture[str]) -> None:
    assert benchd(capsys, "boards", "maintenance", "D3E4F5")[0] == 0
    submit_run(queue)
    compile_host = queue.claim("bench-a", ["host"], 30)
    assert compile_host is not None and queue.finish(compile_host, "success", {}, None)
    queue.decide(RUN_ID, ["flash"], {})
    assert queue.claim("bench-b", ["host"], 30) is None


@pytest.mark.pg
@pytest.mark.parametrize("verb", ["maintenance", "retire", "release"])
def test_an_unknown_board_fails_and_changes_nothing(verb: str, queue: Queue,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = benchd(capsys, "boards", verb, "NOPE42")
    assert code == 2 and out == ""
    assert "the queue has no board 'NOPE42': `benchd boards` lists the fleet's boards" in err
    assert {b["health"] for b in queue.boards()} == {"good"}


def test_release_without_a_queue_is_this_machines_quarantine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from daemon.boards.health import BoardHealth

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCHD_QUEUE_URL", raising=False)
    health = BoardHealth(tmp_path / "state" / "benchd.sqlite3", quarantine_after=1)
    health.record("A0B1C2", "flash", False, "MD5 mismatch")
    assert health.is_quarantined("A0B1C2")
    code, out, _ = benchd(capsys, "boards", "--state", str(tmp_path / "state"), "release", "A0B1C2")
    assert (code, out) == (0, "released A0B1C2: it takes part in the next run\n")
    assert not health.is_quarantined("A0B1C2")
    code, _, err = benchd(capsys, "boards", "--state", str(tmp_path / "state"), "release", "NOPE42")
    assert code == 2 and "never seen a board 'NOPE42'" in err


# -- runs, show, logs -------------------------------------------------------------------------------------
@pytest.mark.pg
def test_runs_lists_the_queue_from_any_host(queue: Queue, capsys: pytest.CaptureFixture[str]) -> None:
    run_across_two_hosts(queue)
    code, out, _ = benchd(capsys, "runs")
    assert code == 0
    assert re.match(rf"{RUN_ID}\s+kws\.tflite\s+success\s+alice@bench-a\s+\d{{4}}-", line_of(out, RUN_ID))
    rows = json.loads(benchd(capsys, "runs", "--json", "--model", "kws")[1])
    assert [(r["id"], r["state"], r["status"], r["submitted_by"]) for r in rows] == [
        (RUN_ID, "done", "success", "alice@bench-a")]
    assert json.loads(benchd(capsys, "runs", "--json", "--model", "other")[1]) == []


@pytest.mark.pg
def test_show_names_the_host_board_and_attempt_of_each_job(queue: Queue, capsys: pytest.CaptureFixture[str]) -> None:
    run_across_two_hosts(queue)
    code, out, _ = benchd(capsys, "show", RUN_ID[:12])
    assert code == 0
    assert re.search(r"compile-host\s+success\s+ran on bench-a \(attempt 1\)", out)
    assert re.search(r"flash\s+success\s+ran on bench-a, board A0B1C2 \(attempt 2\)", out)
    assert re.search(r"attempt 1\s+bench-b\s+board D3E4F5\s+given back \(infra\): board unplugged", out)
    assert re.search(r"attempt 2\s+bench-a\s+board A0B1C2\s+success$", out, re.MULTILINE)
    assert "# kws.tflite: success" in out  # the result, in summary.md's words
    code, out, _ = benchd(capsys, "show", "latest", "--json")
    assert json.loads(out)["run_id"] == RUN_ID and json.loads(out)["status"] == "success"  # result.json


@pytest.mark.pg
def test_show_of_a_run_still_going_says_how_to_follow(queue: Queue, capsys: pytest.CaptureFixture[str]) -> None:
    run_across_two_hosts(queue, finish=False)
    code, out, _ = benchd(capsys, "show", RUN_ID)
    assert code == 0 and f"run {RUN_ID}  kws.tflite  running" in out
    assert re.search(r"flash\s+leased\s+running on bench-a, board A0B1C2 \(attempt 2\)", out)
    assert re.search(r"attempt 2\s+bench-a\s+board A0B1C2\s+running$", out, re.MULTILINE)
    assert f"`benchd logs {RUN_ID} -f`" in out
    state = json.loads(benchd(capsys, "show", RUN_ID, "--json")[1])
    assert state["status"] == "running" and [j["name"] for j in state["jobs"]] == ["compile-host", "flash"]


@pytest.mark.pg
def test_an_unknown_run_fails(queue: Queue, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = benchd(capsys, "show")  # latest
    assert code == 2 and "no runs in the queue yet (benchd submit MODEL queues one)" in err
    submit_run(queue)
    code, _, err = benchd(capsys, "logs", "nope")
    assert code == 2 and "no run 'nope' in the queue" in err


@pytest.mark.pg
def test_logs_prints_every_attempts_chunks(queue: Queue, capsys: pytest.CaptureFixture[str]) -> None:
    run_across_two_hosts(queue)
    code, out, _ = benchd(capsys, "logs", RUN_ID)
    assert code == 0
    assert out == ("==> compile-host/1-compile.log (attempt 1) <==\ncompiling kws.tflite\n"
                   "==> flash/1-flash.log (attempt 1) <==\nconnecting to D3E4F5\n"
                   "==> flash/1-flash.log (attempt 2) <==\nflashed A0B1C2\n")
    code, out, _ = benchd(capsys, "logs", RUN_ID, "flash/1")
    assert code == 0 and "compiling" not in out and out.endswith("flashed A0B1C2\n")


@pytest.mark.pg
def test_follow_prints_what_arrives_until_the_run_is_done(queue: Queue) -> None:
    run_across_two_hosts(queue, finish=False)
    job = next(j for j in queue.jobs(RUN_ID) if j.name == "flash")
    lease = Claim(job.id, job.attempt, "bench-a", "flash", RUN_ID, "A0B1C2", None)  # bench-a's, as it holds it
    naps: list[float] = []

    def sleep(seconds: float) -> None:  # the run goes on while the reader waits, then ends
        naps.append(seconds)
        if len(naps) == 1:
            assert queue.append_log(lease, 1, "1-flash.log", "verifying\n")
        elif len(naps) == 2:
            assert queue.append_log(lease, 2, "1-flash.log", "done\n")
            assert queue.finish(lease, "success", {}, None)
            queue.finish_run(RUN_ID, "success", {})

    out = io.StringIO()
    fleet_runs.follow(queue, RUN_ID, "flash", out, sleep=sleep)
    assert naps == [fleet_runs.FOLLOW_POLL_S] * 2 == [0.5, 0.5]
    assert out.getvalue() == ("==> flash/1-flash.log (attempt 1) <==\nconnecting to D3E4F5\n"
                              "==> flash/1-flash.log (attempt 2) <==\nflashed A0B1C2\nverifying\ndone\n")
