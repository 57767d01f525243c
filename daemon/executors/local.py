"""Run steps as host processes: one process group per step, killed whole at its timeout.

Host steps run as benchd's own user, root included: host jobs are the trusted part of a pipeline (they
flash boards, take board leases in the state folder, read the venv). A `run:` step from an untrusted
workflow belongs in a `container:` job, which runs as `docker.step_user`. What the daemon itself reads and
writes in the workspace never follows a link a step made (daemon.executors.safefs), whichever executor ran it.
A step's process group never outlives the step (what it left running is killed when its first process
ends) nor the daemon (daemon.executors.reaper).
"""

from __future__ import annotations

import os
import select
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from daemon.executors import reaper
from daemon.executors.base import JobSpec, StepCommand, StepOutcome
from daemon.executors.logsink import LogSink

# The venv's bin first, so `python`, `tvmc` and `benchd` in a step are the ones benchd runs with.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSED_THROUGH = ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "SSL_CERT_FILE")
KILL_GRACE_S = 5.0  # SIGTERM, then SIGKILL this long after


def host_env(extra: dict[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The controlled environment of a host step: a few basics plus what the runner gives."""
    base = os.environ if base is None else base  # read, not copied: this runs for every step
    env = {k: base[k] for k in PASSED_THROUGH if k in base}
    env.setdefault("LANG", "C.UTF-8")
    env["PATH"] = f"{Path(sys.executable).parent}:{SYSTEM_PATH}"
    env.update(extra)
    return env


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole group, then SIGKILL what is left after a grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        if _exited(proc, time.monotonic() + KILL_GRACE_S):
            break
    kill_leftovers(proc)  # the leader is gone; children that ignored SIGTERM may still hold the group


def kill_leftovers(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL what is left of the group. Call before the leader is reaped: its zombie keeps the group id
    from being reused, so the signal cannot reach anyone else's processes."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _exited(proc: subprocess.Popen[bytes], deadline: float, exit_fd: int | None = None) -> bool:
    """Wait until the leader has exited, without reaping it (WNOWAIT); False at the deadline. With the
    leader's pidfd the kernel wakes us as it exits; without one, a 10 ms poll (which, right after a step's
    output closed, cost a 10 ms sleep a step: its exit lags the close of its output by a little)."""
    while True:
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:  # already reaped
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if exit_fd is not None:
            select.select([exit_fd], [], [], left)
        else:
            time.sleep(min(left, 0.01))


def _exit_fd(proc: subprocess.Popen[bytes]) -> int | None:
    """A pidfd of the leader (Linux 5.3+): readable once it has exited. None where there is none."""
    try:
        return os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return None


class LocalJob:
    image_digest: str | None = None
    owner: tuple[int, int] | None = None  # steps run as the daemon's own user

    def __init__(self, spec: JobSpec, live: set[subprocess.Popen[bytes]], groups: reaper.StepGroups) -> None:
        self.spec = spec
        self.deadline = time.monotonic() + spec.timeout_s
        self._live = live  # the executor's set of running step processes, for kill_all()
        self._groups = groups
        self._mine: set[subprocess.Popen[bytes]] = set()  # this job's running step, for cancel()

    def run_step(self, command: StepCommand) -> StepOutcome:
        start = time.monotonic()
        job_left = self.deadline - start
        timeout = min(command.timeout_s, job_left)
        which = "step" if command.timeout_s <= job_left else "job"
        tag = reaper.new_tag()
        self._groups.expect(tag)
        with LogSink(command.log_path) as sink:
            env = host_env({**command.env, reaper.TAG_VAR: tag})
            argv, preexec = reaper.launch(command.argv)
            try:
                if not _found(command.argv[0], env["PATH"], command.cwd):  # setpriv would exit 127 instead
                    raise FileNotFoundError(f"{command.argv[0]} is not on the step's PATH")
                # No preexec_fn (setpriv sets the parent-death signal): CPython vforks rather than forking
                # the whole daemon.
                proc = subprocess.Popen(  # noqa: S603 - argv list, never a shell string
                    argv,
                    cwd=command.cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=preexec,
                )
            except (OSError, subprocess.SubprocessError) as exc:
                self._groups.not_started(tag)
                return StepOutcome(None, time.monotonic() - start, error=f"cannot start {command.argv[0]}: {exc}")
            self._groups.record(tag, proc.pid)
            self._live.add(proc)
            self._mine.add(proc)
            exit_fd = _exit_fd(proc)
            try:
                timed_out = _pump(proc, sink, timeout, exit_fd)
                # Output closed, but the process may still be running.
                timed_out = timed_out or not _exited(proc, start + max(timeout, 0.01), exit_fd)
                if timed_out:
                    kill_group(proc)
                else:
                    kill_leftovers(proc)  # what the step left running in the background ends with it
            finally:
                if exit_fd is not None:
                    os.close(exit_fd)
                self._live.discard(proc)
                self._mine.discard(proc)
                self._groups.forget(tag, proc.pid)
            code = proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        outcome = StepOutcome(
            exit_code=None if timed_out else code,
            duration_s=time.monotonic() - start,
            timed_out=timed_out,
            log_truncated=sink.truncated,
            errors=sink.errors,
            warnings=sink.warnings,
            last_line=sink.last_line,
        )
        if timed_out:
            outcome.error = f"killed after {timeout:.0f} s: the {which} timeout (timeout-minutes) ran out"
        elif getattr(proc, "benchd_cancelled", False):
            outcome.exit_code = None
            outcome.error = "cancelled: benchd is stopping (the run is queued again for the next start)"
        return outcome

    def cancel(self, force: bool = False) -> None:
        """Stop this job's running step (its run was cancelled): its process group gets SIGTERM, then
        SIGKILL after KILL_GRACE_S; with force, SIGKILL at once. The step ends cancelled."""
        for proc in list(self._mine):
            proc.benchd_cancelled = True  # type: ignore[attr-defined]
            if not force:
                kill_group(proc)
                continue
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        pass


def _found(program: str, path: str, cwd: Path) -> bool:
    """Whether exec would find the step's program (its PATH, or a path relative to its working folder)."""
    if "/" in program:
        return os.access(cwd / program, os.X_OK)
    return shutil.which(program, path=path) is not None


def _pump(proc: subprocess.Popen[bytes], sink: LogSink, timeout: float, exit_fd: int | None = None) -> bool:
    """Copy output into the sink until the process ends; True when the timeout ran out first. The step ends
    with its first process: background children that still hold the pipe do not keep it running (with the
    leader's pidfd, its exit wakes the loop at once; without, within 0.2 s)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + max(timeout, 0)
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        if exit_fd is not None:
            sel.register(exit_fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            ready = {key.fd for key, _ in sel.select(timeout=min(left, 0.2))}
            if fd not in ready:
                if _exited(proc, 0):  # quiet, and the leader is gone: what it left is killed next
                    return False
                continue
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not data:  # EOF: every writer of the pipe is gone
                proc.stdout.close()
                return False
            sink.write(data)


class LocalExecutor:
    name = "local"

    def __init__(self, state: Path | None = None) -> None:
        self._live: set[subprocess.Popen[bytes]] = set()
        self._groups = reaper.StepGroups(state)  # state/processes/: what the next start reaps after a crash

    def open_job(self, spec: JobSpec) -> LocalJob:
        return LocalJob(spec, self._live, self._groups)

    def kill_all(self) -> None:
        """Stop every running step (the daemon is shutting down); their runs end `cancelled`."""
        for proc in list(self._live):
            proc.benchd_cancelled = True  # type: ignore[attr-defined]
            kill_group(proc)
