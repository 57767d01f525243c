"""Several `benchd worker` processes on one real PostgreSQL, with simulated boards: every drop ends in exactly
one result through a kill -9, a network partition and an engine restart; a dead host's job runs again."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleetkit import REAPER_S, TTL_S, Fleet
from tcprelay import TcpRelay

from daemon.boards.sim.host import BoardSimulator

pytestmark = [pytest.mark.pg, pytest.mark.timeout(300)]


@pytest.fixture
def model(samples: dict[str, Path]) -> Path:
    return samples["kws_xs.tflite"]


@pytest.fixture
def fleet(pg_url: str, tmp_path: Path) -> Iterator[Fleet]:
    fleet = Fleet.make(pg_url, tmp_path / "fleet")
    yield fleet
    fleet.stop()
    queue = fleet.queue()
    try:
        assert queue.double_bookings() == 0  # checked after every test: no board leased to two jobs at once
    finally:
        queue.engine.close()


@pytest.fixture
def boards() -> Iterator[list[BoardSimulator]]:
    started: list[BoardSimulator] = []
    yield started
    for sim in started:
        sim.stop()


def simulated(boards: list[BoardSimulator], faults: tuple[str, ...] = ()) -> str:
    sim = BoardSimulator.make(1, faults=faults, mac_base=0xC0 + len(boards)).start()  # own MAC, own id
    boards.append(sim)
    return str(sim.ports[0])


def distinct_variants(model: Path, folder: Path, count: int) -> list[Path]:
    """`count` different models (one byte appended: another sha256, the same graph)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"m{n:02}.tflite"
        path.write_bytes(model.read_bytes() + bytes([n]))
        paths.append(path)
    return paths


def results_on_disk(fleet: Fleet) -> Counter[str]:
    """Run id -> how many result.json files the hosts wrote for it."""
    return Counter(json.loads(p.read_text())["run_id"] for p in fleet.root.glob("*/data/results/*/*/result.json"))


def test_three_workers_finish_every_drop_once_through_a_kill_and_a_partition(fleet: Fleet, model: Path,
                                                                             boards: list[BoardSimulator],
                                                                             pg_server, tmp_path: Path) -> None:
    relay = TcpRelay(pg_server.host, pg_server.port)
    try:
        fleet.start("build-1")  # no boards: host jobs only
        fleet.start("bench-2", ports=[simulated(boards)], board_labels=["sensor=mic"])
        fleet.start("bench-3", ports=[simulated(boards)], board_labels=["sensor=mic"],
                    url=fleet.url.replace(f":{pg_server.port}/", f":{relay.port}/"))
        # Three attempts: a job may lose its host to the kill and then again to the partition.
        runs = [fleet.submit(m, max_attempts=3) for m in distinct_variants(model, tmp_path / "models", 18)]
        slow = fleet.submit(model, name="slow-1.tflite", max_attempts=3)  # a 6 s build step: killed mid-step
        runs += [slow, fleet.submit(model, name="slowboard-1.tflite", max_attempts=3)]

        lease = fleet.wait_leased("build", timeout_s=60, run_id=slow)
        victim = fleet.workers[lease["host"]]
        victim.kill()
        killed_at = time.monotonic()
        again = fleet.wait_leased("build", timeout_s=TTL_S + REAPER_S + 10, run_id=slow, attempt=2)
        picked_up_s = time.monotonic() - killed_at
        assert again["host"] != victim.name
        assert picked_up_s <= TTL_S + REAPER_S + 1, picked_up_s
        fleet.restart(victim.name)  # back, as a lab restarts the service: its board serves again

        held = fleet.wait_leased(None, host="bench-3", timeout_s=60)  # any job bench-3 holds
        relay.freeze()
        rerun = fleet.wait_leased(held["name"], timeout_s=TTL_S + REAPER_S + 30, run_id=held["run_id"],
                                  attempt=held["attempt"] + 1)
        assert rerun["host"] != "bench-3"
        relay.thaw()

        done = fleet.wait_runs_done(runs, timeout_s=180)
    finally:
        fleet.stop()
        relay.close()
    assert {r: v["status"] for r, v in done.items()} == dict.fromkeys(runs, "success"), fleet.logs()
    assert results_on_disk(fleet) == Counter(runs)  # exactly one result.json per drop, fleet-wide
    queue = fleet.queue()
    try:
        for run_id in runs:
            jobs = done[run_id]["result"]["jobs"]
            assert all(j.get("host") and j.get("attempt", 0) >= 1 for j in jobs), jobs  # who ran it, which try
            assert any(j["id"].startswith("flash") and j.get("board") for j in jobs), jobs
            attempts = queue.attempts(run_id)
            finished = [a for a in attempts if a["outcome"] == "success"]
            assert Counter(a["name"] for a in finished) == Counter({"build": 1, "flash": 1}), attempts
        slow_attempts = [(a["attempt"], a["host"], a["outcome"], a["kind"]) for a in queue.attempts(slow)
                         if a["name"] == "build"]
        assert slow_attempts[0][1:] == (victim.name, "expired", "infra") and slow_attempts[-1][2] == "success"
        # The killed host's log lines streamed before it died, beside those of the attempt that finished.
        streamed = [(c["attempt"], c["data"]) for c in queue.log_chunks(slow) if c["name"] == "build"]
        assert {a for a, text in streamed if "building slow-1.tflite" in text} >= {1, slow_attempts[-1][0]}, streamed
    finally:
        queue.engine.close()
    assert "lease lost" in fleet.workers["bench-3"].text()  # it knew, stopped the job and wrote nothing
    # Runs no host was lost in ran each job once (the ledger is written by the steps themselves).
    ledger = Counter(line.rsplit(" ", 1)[0] if " flash " in line else line for line in fleet.ledger_lines())
    untouched = [r for r in runs if r not in (slow, held["run_id"])]
    assert all(ledger[f"{r} build"] == 1 and ledger[f"{r} flash"] == 1 for r in untouched), ledger


def test_a_killed_board_job_with_one_attempt_ends_infra_and_its_board_is_checked_first(
        fleet: Fleet, model: Path, boards: list[BoardSimulator]) -> None:
    port = simulated(boards)
    first = fleet.start("bench-a", ports=[port], board_labels=["sensor=mic"])
    run_id = fleet.submit(model, name="slowboard-1.tflite", max_attempts=1)
    lease = fleet.wait_leased("flash", run_id=run_id, timeout_s=90)
    first.kill()
    fleet.start("bench-b", ports=[port], board_labels=["sensor=mic"])  # the same board, on another host
    done = fleet.wait_runs_done([run_id], timeout_s=60)[run_id]
    assert done["status"] == "error"
    errors = done["result"]["errors"]
    assert [e["kind"] for e in errors] == ["infra"] and "expired" in errors[0]["message"], errors
    second = fleet.submit(model, name="after-the-kill.tflite")
    fleet.wait_runs_done([second], timeout_s=60)
    queue = fleet.queue()
    try:
        history = [(h["health"], h["at"]) for h in reversed(queue.health_log(lease["board_id"]))]
        [flash] = [a for a in queue.attempts(second) if a["name"] == "flash"]
    finally:
        queue.engine.close()
    # good (its first check) -> unknown (the job lost with its host) -> good (checked again) -> the next job
    assert [h for h, _ in history] == ["good", "unknown", "good"], history
    assert history[2][1] < flash["started_at"] and flash["board_id"] == lease["board_id"]


def test_an_engine_restart_mid_run_loses_nothing_and_runs_nothing_twice(fleet: Fleet, model: Path,
                                                                        boards: list[BoardSimulator],
                                                                        pg_server, tmp_path: Path) -> None:
    fleet.start("build-1")
    fleet.start("bench-2", ports=[simulated(boards)], board_labels=["sensor=mic"])
    slow = fleet.submit(model, name="slow-1.tflite")  # a 6 s step, running while the engine restarts
    runs = [slow, *(fleet.submit(m) for m in distinct_variants(model, tmp_path / "models", 4))]
    fleet.wait_leased("build", run_id=slow, timeout_s=60)
    pg_server.restart(mode="immediate")
    runs.append(fleet.submit(model, name="after-restart.tflite"))
    done = fleet.wait_runs_done(runs, timeout_s=120)
    assert {r: v["status"] for r, v in done.items()} == dict.fromkeys(runs, "success"), fleet.logs()
    ledger = Counter(line.rsplit(" ", 1)[0] if " flash " in line else line for line in fleet.ledger_lines())
    assert all(ledger[f"{r} build"] == 1 and ledger[f"{r} flash"] == 1 for r in runs), ledger
    assert results_on_disk(fleet) == Counter(runs)
    queue = fleet.queue()
    try:
        assert {a["attempt"] for r in runs for a in queue.attempts(r)} == {1}  # the leases held through it
    finally:
        queue.engine.close()


def test_a_board_that_fails_its_health_check_goes_bad_and_gets_none_of_the_next_20_jobs(
        fleet: Fleet, model: Path, boards: list[BoardSimulator], tmp_path: Path) -> None:
    bad_port = simulated(boards, faults=("bad-output",))  # flashes and boots, computes wrong results
    good_port = simulated(boards)
    fleet.start("bench-1", ports=[bad_port, good_port], board_labels=["sensor=mic"])
    runs = [fleet.submit(m) for m in distinct_variants(model, tmp_path / "models", 20)]
    done = fleet.wait_runs_done(runs, timeout_s=180)
    assert {v["status"] for v in done.values()} == {"success"}, fleet.logs()
    queue = fleet.queue()
    try:
        health = {b["port"]: b for b in queue.boards()}
        used = Counter(a["board_id"] for r in runs for a in queue.attempts(r) if a["name"] == "flash")
    finally:
        queue.engine.close()
    bad, good = health[bad_port], health[good_port]
    assert (bad["health"], good["health"]) == ("bad", "good")
    assert "differs" in bad["health_reason"], bad["health_reason"]
    assert used == Counter({good["id"]: 20})
