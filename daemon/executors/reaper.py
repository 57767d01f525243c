"""Host steps never outlive benchd: their process groups die with it, and what a crash left is reaped at start.

Each host step runs in a process group (session) of its own. Three layers keep any of it from surviving:
1. The step's first process gets PR_SET_PDEATHSIG(SIGKILL): it dies with the daemon thread that started it.
   util-linux's `setpriv --pdeathsig KILL` sets it and execs the step (`launch`), so the spawn needs no
   preexec_fn: with one, CPython forks the whole daemon and runs Python in the child (+6 ms a step,
   measured), without one it vforks. Where setpriv is missing or too old, the preexec_fn is the fallback.
2. A guard process (this file run as a script: stdlib only, one per daemon, in a session of its own) reads a
   pipe; the daemon writes `+PGID TAG` / `-PGID TAG` as steps start and end. However the daemon dies
   (`kill -9` included) the kernel closes the pipe's write end, and the guard kills every group still
   listed, and every process carrying one of their tags (a child that left the group with setsid).
3. Every group is recorded as `state/processes/<tag>.json`, and its processes carry BENCHD_STEP_TAG=<tag> in
   their environment: `reap_recorded` at the next start kills what a dead daemon left (the guard killed too,
   say). Only processes that carry a recorded tag are touched, so a reused pid is never hit.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

TAG_VAR = "BENCHD_STEP_TAG"
PR_SET_PDEATHSIG = 1
GUARD_GRACE_S = 2.0
SPAWN_SETTLE_S = 0.2  # how long after the daemon's death the guard looks for tagged steps once more


@functools.cache
def _setpriv() -> str | None:
    """util-linux's setpriv, when it knows --pdeathsig (2.33 and later); asked once per daemon."""
    path = shutil.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin")
    if path is None:
        return None
    try:
        usage = subprocess.run([path, "--help"], capture_output=True, timeout=10, check=False).stdout  # noqa: S603 - a fixed argv
    except (OSError, subprocess.SubprocessError):
        return None
    return path if b"--pdeathsig" in usage else None


def launch(argv: Sequence[str]) -> tuple[list[str], Callable[[], None] | None]:
    """The argv to spawn a step with, and the preexec_fn it needs (None: setpriv sets the parent-death
    signal, and the spawn can vfork). Either way the step is SIGKILLed when the daemon thread goes; with
    setpriv, a daemon that dies between the spawn and the prctl leaves the step to the guard (layer 2)."""
    setpriv = _setpriv()
    if setpriv is None:
        return list(argv), die_with_parent()
    return [setpriv, "--pdeathsig", "KILL", "--", *argv], None


def die_with_parent() -> Callable[[], None]:
    """A Popen preexec_fn: the child is SIGKILLed when the daemon goes. ctypes is resolved before the fork,
    so the child only makes the call."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent, sigkill = os.getpid(), int(signal.SIGKILL)

    def setup() -> None:
        prctl(PR_SET_PDEATHSIG, sigkill)
        if os.getppid() != parent:  # the daemon died before the prctl took hold
            os._exit(1)

    return setup


class Guard:
    """The daemon's end of the guard pipe; started on first use, restarted if it died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._groups: set[tuple[int, str]] = set()

    def _start(self) -> None:
        read, write = os.pipe()  # both close-on-exec: no step inherits the write end
        try:
            os.posix_spawn(sys.executable, [sys.executable, "-I", "-S", __file__], {},
                           file_actions=[(os.POSIX_SPAWN_DUP2, read, 0)], setsid=True)
        finally:
            os.close(read)
        self._fd = write
        self._send("".join(f"+{pgid} {tag}\n" for pgid, tag in self._groups))

    def _send(self, text: str) -> None:
        if not text:
            return
        for _ in range(2):
            try:
                if self._fd is None:
                    self._start()
                    return  # _start sent the whole list
                os.write(self._fd, text.encode())
                return
            except OSError:  # the guard is gone (killed on its own): start another one
                if self._fd is not None:
                    os.close(self._fd)
                self._fd = None

    def add(self, pgid: int, tag: str) -> None:
        with self._lock:
            self._groups.add((pgid, tag))
            self._send(f"+{pgid} {tag}\n")

    def discard(self, pgid: int, tag: str) -> None:
        with self._lock:
            self._groups.discard((pgid, tag))
            self._send(f"-{pgid} {tag}\n")


GUARD = Guard()  # one per daemon process: every local executor shares it


class StepGroups:
    """The process groups of running host steps: told to the guard and recorded in the state folder."""

    def __init__(self, state: Path | None = None) -> None:
        self.folder = state / "processes" if state is not None else None

    def expect(self, tag: str) -> None:
        """Right before the spawn: the guard knows the tag already, so a step whose daemon dies between the
        spawn and `record` (before its parent-death signal is set) is still found by its tag and killed."""
        GUARD.add(0, tag)

    def not_started(self, tag: str) -> None:
        """The spawn failed: nothing carries the tag."""
        GUARD.discard(0, tag)

    def record(self, tag: str, pgid: int) -> None:
        """Right after the spawn: `tag` is the BENCHD_STEP_TAG given to the step, `pgid` its leader's pid."""
        GUARD.add(pgid, tag)
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        me = os.getpid()
        (self.folder / f"{tag}.json").write_text(json.dumps({"pgid": pgid, "daemon": me,
                                                              "daemon_start": _own_start_time(me)}))

    def forget(self, tag: str, pgid: int) -> None:
        """Once the group is killed (before its leader is reaped): also what left the group goes."""
        kill_tagged({tag}, since=pgid)  # only processes started after the step's first one can carry its tag
        GUARD.discard(pgid, tag)
        GUARD.discard(0, tag)
        if self.folder is not None:
            (self.folder / f"{tag}.json").unlink(missing_ok=True)


def new_tag() -> str:
    return secrets.token_hex(8)


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (with the pid, an identity that is never reused)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


@functools.cache
def _own_start_time(pid: int) -> int | None:
    """start_time of this daemon (keyed by pid: a forked child asks for its own), read once, not per step."""
    return start_time(pid)


def reap_recorded(state: Path) -> list[int]:
    """Kill the step processes recorded by daemons that are gone; returns the pids killed."""
    folder = state / "processes"
    if not folder.is_dir():
        return []
    orphaned: dict[str, tuple[Path, int]] = {}
    for path in folder.glob("*.json"):
        try:
            data = json.loads(path.read_text())
            daemon, pgid = int(data["daemon"]), int(data["pgid"])
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        started = data.get("daemon_start")
        if started is not None and start_time(daemon) == started:
            continue  # its daemon is alive (a `benchd run` beside this one, or this one): not orphans
        orphaned[path.stem] = (path, pgid)
    found = [(pid, tag) for pid, tag in _tagged_processes() if tag in orphaned] if orphaned else []
    for pid, tag in found:
        pgid = orphaned[tag][1]
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == pgid:  # a tagged member proves the group is still the step's
                os.killpg(pgid, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)
    for path, _ in orphaned.values():
        path.unlink(missing_ok=True)
    return [pid for pid, _ in found]


def kill_tagged(tags: set[str], since: int | None = None) -> list[int]:
    """SIGKILL every process whose environment carries one of these tags; the pids killed. `since`: the pid
    of the step's first process: older pids cannot be its offspring (unless pids wrapped, then all are read)."""
    killed = []
    for pid, tag in _tagged_processes(since):
        if tag in tags:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    return killed


def _tagged_processes(since: int | None = None) -> list[tuple[int, str]]:
    # Run after every step: one C-level find per process, not a split of its whole environment (a tenth of
    # the CPU, measured), and plain strings rather than Path objects.
    marker = f"\0{TAG_VAR}=".encode()
    found = []
    if since is not None and _last_pid() < since:
        since = None  # pids wrapped around since the step started: a newer process may have a lower pid
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or (since is not None and int(entry) < since):
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = b"\0" + f.read()
        except OSError:
            continue
        at = environ.find(marker)
        if at >= 0:
            start = at + len(marker)
            end = environ.find(b"\0", start)
            found.append((int(entry), environ[start:end if end >= 0 else None].decode("ascii", "replace")))
    return found


def _last_pid() -> int:
    try:
        return int(Path("/proc/sys/kernel/ns_last_pid").read_text())
    except (OSError, ValueError):
        return -1  # unknown: read every process


def _guard_main() -> None:
    """The guard: collect the listed groups until the pipe closes, then SIGTERM them, then SIGKILL."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    listed: set[tuple[int, str]] = set()
    pending = b""
    while data := os.read(0, 4096):
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            with contextlib.suppress(ValueError):
                number, tag = line[1:].decode("ascii").split(" ")
                (listed.add if line[:1] == b"+" else listed.discard)((int(number), tag))
    if not listed:
        return
    groups = {pgid for pgid, _ in listed if pgid > 0}  # 0: a tag announced before its spawn, no group yet
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pgid in list(groups):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                groups.discard(pgid)
        deadline = time.monotonic() + GUARD_GRACE_S
        while groups and time.monotonic() < deadline:
            time.sleep(0.05)
            groups = {g for g in groups if _group_exists(g)}
    tags = {tag for _, tag in listed}
    kill_tagged(tags)  # what left its group (setsid) but kept its tag
    time.sleep(SPAWN_SETTLE_S)  # a step spawned as the daemon died may exec (and carry its tag) only now
    kill_tagged(tags)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


if __name__ == "__main__":
    _guard_main()
