"""A board session's owner rules: who may flash, who may read, and when a session left behind is free."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon.boards.session import BoardSession, NotInSession, SessionBusy, SessionOwner, process_start, read_session

BOARD = "58cf79b00000"


def owner(workspace: Path, run: str = "run-a", job: str = f"bench ({BOARD})", pid: int | None = None) -> SessionOwner:
    workspace.mkdir(parents=True, exist_ok=True)
    daemon = os.getpid() if pid is None else pid
    return SessionOwner(run, job, daemon, process_start(daemon), str(workspace))


def in_session(state: Path) -> bool:
    holder = read_session(state, BOARD)
    return holder is not None and holder.alive()


def session(state: Path, who: SessionOwner) -> BoardSession:
    return BoardSession(state, BOARD, who)


def test_one_job_flashes_and_reads_then_the_next_job_may_flash(tmp_path: Path) -> None:
    state = tmp_path / "state"
    mine, theirs = owner(tmp_path / "a"), owner(tmp_path / "b", run="run-b")
    with session(state, mine).open(wait_s=0):
        pass
    assert in_session(state)
    with session(state, mine).open(wait_s=0):  # the same job flashes again (its second firmware)
        pass
    with pytest.raises(SessionBusy, match="session of run run-a, job bench .*waited 0 s"):
        session(state, theirs).open(wait_s=0.5)
    with pytest.raises(NotInSession, match=f"board {BOARD} was not flashed by this job .*held by run run-a"):
        session(state, theirs).join(wait_s=0)
    reader = session(state, mine)
    with reader.join(wait_s=0):
        reader.end()
    assert not in_session(state)
    with pytest.raises(NotInSession, match="no job holds its session: flash it"):
        session(state, mine).join(wait_s=0)  # its session ended with the last line read
    with session(state, theirs).open(wait_s=0):
        pass


def test_a_waiting_flash_gets_the_board_when_the_holder_reads_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    holder = session(state, owner(tmp_path / "a"))
    with holder.open(wait_s=0):
        pass
    script = ("import sys; from pathlib import Path; from daemon.boards.session import *; "
              f"o = SessionOwner('run-b', 'bench', {os.getpid()}, {process_start(os.getpid())}, {str(tmp_path)!r}); "
              f"BoardSession(Path({str(state)!r}), {BOARD!r}, o).open(wait_s=20).release(); print('flashed')")
    waiter = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    try:
        time.sleep(1.0)
        assert waiter.poll() is None  # still waiting for the session
        ended = time.monotonic()
        with holder.join(wait_s=5):
            holder.end()
        out, _ = waiter.communicate(timeout=15)
    finally:
        waiter.kill()
        waiter.wait()
    assert out.strip() == "flashed" and time.monotonic() - ended < 5


def test_a_session_whose_daemon_died_or_whose_run_ended_is_taken_over(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead_daemon = owner(tmp_path / "a", pid=proc.pid)
    with session(state, dead_daemon).open(wait_s=0):
        pass
    proc.kill()
    proc.wait()
    assert not in_session(state)
    taker = session(state, owner(tmp_path / "b", run="run-b"))
    with taker.open(wait_s=0):
        taker.end()
    assert taker.taken_over == dead_daemon

    finished = owner(tmp_path / "c", run="run-c")
    with session(state, finished).open(wait_s=0):
        pass
    (tmp_path / "c").rmdir()  # the runner removes a run's workspace when the run ends
    taker = session(state, owner(tmp_path / "d", run="run-d"))
    with taker.open(wait_s=0):
        pass
    assert taker.taken_over == finished
