"""A board's serial console: open the port, reset the board, read until the expected output or a failure.

The port is opened before the reset (the C3's USB-Serial-JTAG drops output nobody reads), every byte
goes to the board's log file, and each line is judged as it arrives: `BENCHD_RESULT {json}` lines are
collected, panics and reset loops end the watch early, silence ends it at the timeout.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import serial

from daemon.errors import BoardError

RESULT_PREFIX = "BENCHD_RESULT "
PANIC = re.compile(r"Guru Meditation Error|abort\(\) was called|Stack canary watchpoint|assert failed|panic'ed")
ROM_RESET = re.compile(r"^rst:0x[0-9a-f]+ \(([A-Z0-9_]+)\)")
AFTER_PANIC_S = 0.5  # keep reading briefly: the register dump and backtrace follow the panic line
HEARTBEAT_S = 5.0
SETTLE_S = 0.3  # after the expected output, collect what follows at once (the last result lines)


@dataclass
class ConsoleResult:
    status: str  # ok | timeout | silent | panic | boot-loop
    message: str
    results: list[dict[str, Any]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    seconds: float = 0.0
    resets: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class ConsoleJudge:
    """Judges console lines one at a time; no I/O, so it is tested on plain text."""

    def __init__(self, expect: str = "BENCHD_RESULT", count: int = 1, loop_after: int = 3) -> None:
        self.expect, self.count, self.loop_after = re.compile(expect), count, loop_after
        self.results: list[dict[str, Any]] = []
        self.bad_results: list[str] = []
        self.matches = self.resets = 0
        self.panic: str | None = None
        self.lines: list[str] = []

    def feed(self, line: str) -> None:
        self.lines.append(line)
        if RESULT_PREFIX in line:
            payload = line.split(RESULT_PREFIX, 1)[1].strip()
            try:
                value = json.loads(payload)
                if not isinstance(value, dict):
                    raise ValueError("not an object")
                self.results.append(value)
            except ValueError:
                self.bad_results.append(payload[:200])
        if ROM_RESET.match(line):
            self.resets += 1
        if self.panic is None and PANIC.search(line):
            self.panic = line.strip()
        if self.expect.search(line):
            self.matches += 1

    @property
    def satisfied(self) -> bool:
        return self.matches >= self.count

    @property
    def looping(self) -> bool:
        return self.resets >= self.loop_after


def watch(port: str, log_path: Path, reset: Callable[[serial.Serial], None], timeout_s: float = 30.0,
          judge: ConsoleJudge | None = None, baud: int = 115200,
          heartbeat: Callable[[], None] | None = None) -> ConsoleResult:
    """Open `port`, call `reset` on it, and read until judged; the whole output lands in `log_path`."""
    judge = judge or ConsoleJudge()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        ser = serial.serial_for_url(port, baudrate=baud, timeout=0.05, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise BoardError(f"cannot open {port} to monitor it ({exc}): is another monitor or esptool using it? "
                         "`fuser` on the device shows who") from exc
    start = time.monotonic()
    pending, received, stop_at = b"", 0, start + timeout_s
    status, beat = "", start
    with ser, log_path.open("wb") as log:
        reset(ser)
        ser.timeout = 0.05
        while time.monotonic() < stop_at:
            if heartbeat is not None and time.monotonic() - beat > HEARTBEAT_S:
                heartbeat()  # keeps the board's lease from looking hung during a long watch
                beat = time.monotonic()
            try:
                chunk = ser.read(4096)
            except (serial.SerialException, OSError) as exc:
                raise BoardError(f"lost {port} while monitoring ({exc}): check the USB cable") from exc
            if chunk:
                received += len(chunk)
                log.write(chunk)
                log.flush()
                *complete, pending = (pending + chunk).split(b"\n")
                for raw in complete:
                    judge.feed(raw.decode("utf-8", "replace").rstrip("\r"))
            if not status:
                if judge.panic:
                    status, stop_at = "panic", min(stop_at, time.monotonic() + AFTER_PANIC_S)
                elif judge.looping:
                    status = "boot-loop"
                    break
                elif judge.satisfied:
                    status, stop_at = "ok", min(stop_at, time.monotonic() + SETTLE_S)
        if pending:
            judge.feed(pending.decode("utf-8", "replace").rstrip("\r"))
    seconds = time.monotonic() - start
    if not status:
        status = "silent" if received == 0 else "timeout"
    return ConsoleResult(status, _message(status, judge, port, timeout_s, received), judge.results,
                         judge.lines, seconds, judge.resets)


def _message(status: str, judge: ConsoleJudge, port: str, timeout_s: float, received: int) -> str:
    tail = " | ".join(line.strip() for line in judge.lines[-3:] if line.strip())
    if status == "ok":
        return f"{len(judge.results)} result line(s) from {port}"
    if status == "panic":
        return f"the firmware panicked on {port}: {judge.panic}; see the board log for the backtrace"
    if status == "boot-loop":
        return (f"the board on {port} is resetting in a loop ({judge.resets} ROM boot banners): check the "
                "power supply and that the flashed image matches the chip; last lines: " + tail)
    if status == "silent":
        return (f"no output at all from {port} in {timeout_s:.0f} s after the reset: the board may not boot, "
                "or the console is on another UART; check the cable and CONFIG_ESP_CONSOLE_*")
    return (f"the expected output /{judge.expect.pattern}/ did not appear within {timeout_s:.0f} s "
            f"({received} bytes read); last lines: {tail}")
