"""A shared queue with a small fleet in it, for the tests of the fleet's commands, views and dashboard:
two hosts, one board each (both `good`), and a run whose `flash` job was given back by one host and run by
the other."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from report_fixtures import sample_result

from daemon.store import pgschema
from daemon.store.postgres import Engine
from daemon.store.queue import BoardSighting, NewJob, NewRun, Queue

RUN_ID = "20261203-120000-abc123"


@contextlib.contextmanager
def migrated(url: str) -> Iterator[Queue]:
    engine = Engine(url, max_size=2, name="benchd tests")
    try:
        pgschema.migrate(engine)
        yield Queue(engine)
    finally:
        engine.close()


def seed_fleet(queue: Queue) -> None:
    """bench-a (docker) holds A0B1C2 (simulated, 4 MB flash), bench-b holds D3E4F5; both boards `good`."""
    queue.register_host("bench-a", ["host", "docker"], 100, "docker")
    queue.register_host("bench-b", ["host"], 101, "local")
    queue.sync_boards("bench-a", [BoardSighting("A0B1C2", "socket://127.0.0.1:5555", ("board:esp32c3", "flash=4MB"),
                                                True)])
    queue.sync_boards("bench-b", [BoardSighting("D3E4F5", "/dev/ttyACM0", ("board:esp32c3",), False)])
    queue.set_health("A0B1C2", "good", "health check passed")
    queue.set_health("D3E4F5", "good", "health check passed")


def submit_run(queue: Queue, run_id: str = RUN_ID) -> None:
    queue.submit(NewRun(run_id, "kws.tflite", "ab" * 32, 18_000, "pipelines/microkws.yml", "cd" * 32,
                        (NewJob("compile-host", 0, (), ("host",)),
                         NewJob("flash", 1, ("compile-host",), ("board:esp32c3",))),
                        submitted_by="alice@bench-a"))


def run_across_two_hosts(queue: Queue, finish: bool = True) -> str:
    """compile-host on bench-a; flash leased by bench-b on D3E4F5 and given back (board unplugged), then run
    by bench-a on A0B1C2; with `finish`, the run done with a sample result.json."""
    submit_run(queue)
    compile_host = queue.claim("bench-a", ["host", "docker"], 30)
    assert compile_host is not None and compile_host.name == "compile-host"
    assert queue.append_log(compile_host, 0, "1-compile.log", "compiling kws.tflite\n")
    assert queue.finish(compile_host, "success", {}, None)
    queue.decide(RUN_ID, ["flash"], {})
    lost = queue.claim("bench-b", ["host"], 30)
    assert lost is not None and (lost.name, lost.board_id) == ("flash", "D3E4F5")
    assert queue.append_log(lost, 0, "1-flash.log", "connecting to D3E4F5\n")
    assert queue.give_back(lost, "infra", "board unplugged")
    flash = queue.claim("bench-a", ["host", "docker"], 30)
    assert flash is not None and (flash.name, flash.board_id, flash.attempt) == ("flash", "A0B1C2", 2)
    assert queue.append_log(flash, 0, "1-flash.log", "flashed A0B1C2\n")
    if finish:
        assert queue.finish(flash, "success", {}, None)
        queue.finish_run(RUN_ID, "success", sample_result(RUN_ID))
    return RUN_ID
