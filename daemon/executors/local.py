"""Run steps as host processes: one process group per step, killed whole at its timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from daemon.executors.base import JobSpec, StepCommand, StepOutcome
from daemon.executors.logsink import LogSink

# The venv's bin first, so `python`, `tvmc` and `benchd` in a step are the ones benchd runs with.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSED_THROUGH = ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "SSL_CERT_FILE")
KILL_GRACE_S = 3.0


def host_env(extra: dict[str, str], base: dict[str, str] | None = None) -> dict[str, str]:
    """The controlled environment of a host step: a few basics plus what the runner gives."""
    base = dict(os.environ) if base is None else base
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
        try:
            proc.wait(timeout=KILL_GRACE_S)
            # The leader is gone; children that ignored SIGTERM may still hold the group.
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


class LocalJob:
    image_digest: str | None = None

    def __init__(self, spec: JobSpec, live: set[subprocess.Popen[bytes]]) -> None:
        self.spec = spec
        self.deadline = time.monotonic() + spec.timeout_s
        self._live = live  # the executor's set of running step processes, for kill_all()

    def run_step(self, command: StepCommand) -> StepOutcome:
        start = time.monotonic()
        job_left = self.deadline - start
        timeout = min(command.timeout_s, job_left)
        which = "step" if command.timeout_s <= job_left else "job"
        with LogSink(command.log_path) as sink:
            try:
                proc = subprocess.Popen(  # noqa: S603 - argv list, never a shell string
                    list(command.argv),
                    cwd=command.cwd,
                    env=host_env(command.env),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                return StepOutcome(None, time.monotonic() - start, error=f"cannot start {command.argv[0]}: {exc}")
            self._live.add(proc)
            try:
                timed_out = _pump(proc, sink, timeout)
            finally:
                self._live.discard(proc)
            if not timed_out:
                try:  # output closed, but the process may still be running
                    proc.wait(timeout=max(timeout - (time.monotonic() - start), 0.01))
                except subprocess.TimeoutExpired:
                    timed_out = True
            if timed_out:
                kill_group(proc)
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

    def close(self) -> None:
        pass


def _pump(proc: subprocess.Popen[bytes], sink: LogSink, timeout: float) -> bool:
    """Copy output into the sink until the process ends; True when the timeout ran out first."""
    import selectors

    assert proc.stdout is not None
    deadline = time.monotonic() + max(timeout, 0)
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            if not sel.select(timeout=min(left, 1.0)):
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

    def __init__(self) -> None:
        self._live: set[subprocess.Popen[bytes]] = set()

    def open_job(self, spec: JobSpec) -> LocalJob:
        return LocalJob(spec, self._live)

    def kill_all(self) -> None:
        """Stop every running step (the daemon is shutting down); their runs end `cancelled`."""
        for proc in list(self._live):
            proc.benchd_cancelled = True  # type: ignore[attr-defined]
            kill_group(proc)
