"""The application a simulated board runs after a reset, when what it was flashed with can run.

A `virt` image (daemon/firmware/virtimage.py) at the app partition is booted under `qemu-system-riscv32 -M virt`
(the virtual core's own argv, daemon/virtcore/qemu.py), and QEMU's UART is the board's console: the ROM
banner a C3 prints on power-on, then every byte the firmware writes (with the `bad-output` fault, its result
lines pass through bootlog.corrupt_result a whole line at a time). Anything else flashed there, and the injected
boot faults (silence, boot loop, panic), keep their canned timelines (bootlog.py).

No temporary files: the ELF goes to QEMU through a memfd. No threads: the board's line polls `read()`.
QEMU runs in its own process group, killed on the next reset, on download mode, past `time_bound_s`, and
when the simulator stops; coreutils' `timeout` around it enforces the bound even if the simulator itself is
killed without a chance to clean up.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

import structlog

from daemon.boards.sim.bootlog import ROM_BANNER, corrupt_result
from daemon.firmware.virtimage import find_elf
from daemon.virtcore.qemu import QEMU, qemu_argv

CANNED_FAULTS = frozenset({"silent", "boot-loop", "panic"})  # the faults that tell their own boot story
DEFAULT_TIME_BOUND_S = 120.0  # a firmware still running after this is stopped (the monitor will have timed out)
STOP_WAIT_S = 2.0
_log = structlog.get_logger("benchd.boards.sim")


class VirtApp:
    """QEMU running one board's flashed virt firmware; at most one at a time, owned by the board."""

    def __init__(self, time_bound_s: float = DEFAULT_TIME_BOUND_S) -> None:
        self.time_bound_s = time_bound_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._pending = b""
        self._deadline = 0.0
        self._corrupt = False  # the bad-output fault: result lines are rewritten, so output is passed on by lines
        self._partial = b""  # with it, the start of a line not yet complete
        self.boots = 0  # how many times a flashed firmware was started (tests and logs)

    @property
    def running(self) -> bool:
        return self._proc is not None

    def boot(self, flash: bytes | bytearray, faults: Iterable[str] = ()) -> bool:
        """Power-on: start the flashed virt firmware; False when the board should play a canned timeline."""
        self.stop()
        if CANNED_FAULTS & set(faults):
            return False
        self._corrupt = "bad-output" in faults
        elf = find_elf(flash)
        if elf is None:
            return False
        self._pending = ROM_BANNER.format(rst="0x1 (POWERON)").encode()
        self._start(elf)
        return True

    def _start(self, elf: bytes) -> None:
        if shutil.which(QEMU) is None:  # the board stays silent, as a chip whose app does not start
            _log.warning("sim.virt_boot_failed", error=f"{QEMU} is not installed",
                         hint="apt-get install qemu-system-misc, to run virt images on simulated boards")
            self._pending = b""
            return
        fd = os.memfd_create("benchd-virt-elf")  # QEMU opens /dev/fd/N: no file to clean up after a crash
        try:
            os.write(fd, elf)
            os.lseek(fd, 0, os.SEEK_SET)
            argv = ["timeout", "-s", "KILL", f"{self.time_bound_s + 1:.0f}", *qemu_argv(Path(f"/dev/fd/{fd}"))]
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,  # noqa: S603
                                          stderr=subprocess.DEVNULL, pass_fds=(fd,), start_new_session=True)
        except OSError as exc:
            _log.warning("sim.virt_boot_failed", error=str(exc))  # silent board; the log says why
            self._pending = b""
            return
        finally:
            os.close(fd)
        assert self._proc.stdout is not None
        os.set_blocking(self._proc.stdout.fileno(), False)
        self._deadline = time.monotonic() + self.time_bound_s
        self.boots += 1
        _log.debug("sim.virt_booted", pid=self._proc.pid, elf_bytes=len(elf))

    def read(self) -> bytes:
        """What the UART printed since the last call (never blocks); reaps QEMU once it has exited."""
        data = self._read()
        if not self._corrupt:
            return data
        text = self._partial + data
        cut = len(text) if self._proc is None else text.rfind(b"\n") + 1  # QEMU gone: nothing completes a line
        self._partial = text[cut:]
        return b"\n".join(_corrupt_line(line) for line in text[:cut].split(b"\n"))

    def _read(self) -> bytes:
        data, self._pending = self._pending, b""
        proc = self._proc
        if proc is None or proc.stdout is None:
            return data
        if time.monotonic() > self._deadline:
            _log.warning("sim.virt_time_bound", pid=proc.pid, seconds=self.time_bound_s)
            self.stop()
            return data
        try:
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            chunk = None
        if chunk:
            return data + chunk
        if chunk == b"":  # EOF: the firmware left through the test device, QEMU has exited
            self._reap(proc)
        return data

    def stop(self) -> None:
        """Stop QEMU and reap it; harmless when nothing runs. `timeout` passes SIGTERM on to QEMU and reaps it
        (no orphan left for init); whatever is still in the process group after STOP_WAIT_S is killed."""
        proc, self._proc, self._pending, self._partial = self._proc, None, b"", b""
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._reap(proc)

    def _reap(self, proc: subprocess.Popen[bytes]) -> None:
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        if self._proc is proc:
            self._proc = None
        _log.debug("sim.virt_exited", pid=proc.pid, exit_code=proc.returncode)


def _corrupt_line(line: bytes) -> bytes:
    return corrupt_result(line.decode("utf-8", "replace")).encode() if b"BENCHD_RESULT " in line else line
