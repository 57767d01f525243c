"""One board session: a job instance holds a board from its flash to its monitor's last line, across steps.

A step's lease (lease.py) is an flock that ends with the step's process, so between `benchd/flash` and
`benchd/monitor` another run could reflash the board. The session closes that gap. It is a record beside the
lock, `state/locks/<board>.session`, read and written only under the board's lease, naming its owner: the run,
the job instance (`BENCHD_JOB`), the daemon running them (pid and start time: a reused pid is not the daemon)
and the run's workspace, which the runner removes when the run ends.

- `open` (flash): takes the session, waiting (bounded) while another live job holds it; its own job may flash
  again. Another job's session is taken over only when its owner is no longer alive: its daemon is gone or its
  run is over (no workspace), so a crash never leaves a board locked.
- `join` (monitor): only the job holding the session reads the board; anyone else is told the board was not
  flashed by this job.
- `end` (the monitor's last line, or a failed flash): the board is free for the next job.

A job whose monitor never runs (a skipped step) keeps the board until its run ends.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from daemon.boards.lease import BoardLease, LeaseBusy, lock_path
from daemon.errors import BoardError

POLL_S = 0.2


class SessionBusy(LeaseBusy):
    """Another live job holds the board's session."""


class NotInSession(BoardError):
    """This job does not hold the board's session: it did not flash the board."""


def process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot; None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


@dataclass(frozen=True)
class SessionOwner:
    """The job instance a step belongs to, as its environment tells it."""

    run_id: str
    job: str
    daemon_pid: int
    daemon_start: int | None
    workspace: str

    @classmethod
    def of_step(cls, env: Mapping[str, str], workspace: Path) -> SessionOwner:
        # The daemon starts host steps itself (its child, or exec'd through a launcher); BENCHD_DAEMON_PID
        # names it where it is not the parent.
        pid = int(env.get("BENCHD_DAEMON_PID") or os.getppid())
        return cls(env.get("BENCHD_RUN_ID", ""), env.get("BENCHD_JOB", ""), pid, process_start(pid),
                   str(workspace.resolve()))

    def same_job(self, other: SessionOwner) -> bool:
        return self == other

    def alive(self) -> bool:
        """Its daemon still runs and its run is not over (the runner removes a run's workspace at its end)."""
        return process_start(self.daemon_pid) == self.daemon_start and Path(self.workspace).is_dir()

    def describe(self) -> str:
        job = f", job {self.job}" if self.job else ""
        return f"run {self.run_id or '?'}{job} (daemon pid {self.daemon_pid})"


def session_path(state: Path, board_id: str) -> Path:
    return lock_path(state, board_id).with_suffix(".session")


def read_session(state: Path, board_id: str) -> SessionOwner | None:
    """Who holds the board's session now (alive or not); None when it is free."""
    try:
        record = json.loads(session_path(state, board_id).read_text(encoding="utf-8"))
        if record.get("ended"):
            return None
        return SessionOwner(**record["owner"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass
class BoardSession:
    state: Path
    board_id: str
    owner: SessionOwner
    lease_s: float = 600.0
    taken_over: SessionOwner | None = None  # a dead owner whose session this one replaced

    def open(self, wait_s: float, purpose: str = "flash") -> BoardLease:
        """Take the session (or keep this job's own) and return the board's lease, held: the caller releases it."""
        deadline = time.monotonic() + wait_s
        while True:
            lease = self._lease(max(0.0, deadline - time.monotonic()), purpose)
            holder = read_session(self.state, self.board_id)
            if holder is None or holder.same_job(self.owner) or not holder.alive():
                if holder is not None and not holder.same_job(self.owner):
                    self.taken_over = holder
                self._write(ended=False)
                return lease
            lease.release()
            if time.monotonic() >= deadline:
                raise SessionBusy(f"board {self.board_id} is in the session of {holder.describe()}, which flashed "
                                  f"it and has not read it yet; waited {wait_s:.0f} s. Two jobs never share a "
                                  "board between flash and monitor: wait for that run or raise lock-timeout")
            time.sleep(POLL_S)

    def join(self, wait_s: float, purpose: str = "monitor") -> BoardLease:
        """The board's lease, held, if this job holds the session; NotInSession otherwise."""
        lease = self._lease(wait_s, purpose)
        holder = read_session(self.state, self.board_id)
        if holder is not None and holder.same_job(self.owner):
            return lease
        lease.release()
        if holder is not None and holder.alive():
            why = f"its session is held by {holder.describe()}"
        else:
            why = "no job holds its session: flash it with benchd/flash earlier in this job"
        raise NotInSession(f"board {self.board_id} was not flashed by this job ({self.owner.describe()}): {why}")

    def end(self) -> None:
        """Free the board for the next job. Call it while holding the lease `open` or `join` returned."""
        if read_session(self.state, self.board_id) == self.owner:
            self._write(ended=True)

    def _lease(self, wait_s: float, purpose: str) -> BoardLease:
        return BoardLease(self.state, self.board_id, self.lease_s, wait_s=wait_s, purpose=purpose,
                          run_id=self.owner.run_id).acquire()

    def _write(self, ended: bool) -> None:
        path = session_path(self.state, self.board_id)
        record = {"owner": asdict(self.owner), "since": time.time(), "ended": time.time() if ended else None}
        scratch = path.with_suffix(".session.tmp")
        scratch.write_text(json.dumps(record), encoding="utf-8")
        scratch.replace(path)  # a reader never sees half a record
