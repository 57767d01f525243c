"""The health check of one board (LAVA-style): flash a known-good firmware and expect its exact result lines.

A board that is `unknown` (new, or after an infrastructure failure) gets no job until it passes; the queue worker
calls `check_board` with the board it claimed and records the verdict (pass -> good, fail -> bad).

- A simulated board gets the built-in virt firmware (healthfirmware.py: the reference C backend's build of a
  tiny int8 model for the virtual core, built once per content into `cache`) and must print exactly the
  BENCHD_RESULT lines the same ELF printed under QEMU at build time. Needs riscv64-unknown-elf-gcc, picolibc and
  qemu-system-riscv32 on the host; without them the verdict says which is missing.
- A real board gets the prebuilt ESP-IDF health firmware named by `[boards] health_firmware` (a build folder with
  flasher_args.json, plus `expected.txt`: its result lines as a known-good board printed them). A real board's
  `"cycles"` are timing, not correctness, and are left out of the comparison; everything else must be equal.
  Without that setting a real board cannot pass: benchd cannot build ESP-IDF firmware itself.

The board is flashed with the real flasher under its lease (held from the flash to the last line read, renewed
while the console is read); the console goes to `<cache>/logs/<board>.log`. A board another process holds is
not checked: LeaseBusy (or SessionBusy, when a live job flashed it and has not read it yet) is raised instead of
a verdict, since nothing was learnt about the board.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import structlog

from daemon.boards.console import RESULT_PREFIX, ConsoleJudge, ConsoleResult, watch
from daemon.boards.discovery import Board
from daemon.boards.healthfirmware import HealthFirmware, HostToolsMissing, health_firmware
from daemon.boards.lease import BoardLease
from daemon.boards.session import SessionBusy, read_session
from daemon.errors import BenchdError, BoardError
from daemon.firmware.bundle import FirmwareBundle, load_bundle
from daemon.settings import Settings

LEASE_WAIT_S = 30.0  # a discovery probe holds a board for a second or two; a job's flash far longer
EXPECTED_FILE = "expected.txt"  # beside a real board's health firmware: its exact result lines
_CYCLES = re.compile(r'"cycles":\s*\d+')
_log = structlog.get_logger("benchd.boards.healthcheck")


@dataclass(frozen=True)
class HealthVerdict:
    ok: bool
    reason: str  # one sentence for the lab engineer: what passed, or what was wrong
    lines: int  # BENCHD_RESULT lines the board printed


def cache_dir(settings: Settings) -> Path:
    """Where a host keeps its health firmware between checks (the `cache` of check_board)."""
    return settings.state / "healthcheck"


def check_board(board: Board, settings: Settings, cache: Path, timeout_s: float = 120) -> HealthVerdict:
    """Flash `board` with the health firmware and judge its console (read for at most `timeout_s`).

    `cache` keeps the built firmware between calls (`cache_dir(settings)`: state/healthcheck/). Raises LeaseBusy
    or SessionBusy when another process holds the board; every other failure is a verdict."""
    try:
        bundle, expected = _firmware(board, settings, cache)
    except HostToolsMissing as exc:
        return HealthVerdict(False, f"cannot check {board.id}: {exc}", 0)
    except BenchdError as exc:  # VirtCoreError, CodegenError, FlashError (a broken prebuilt bundle)
        return HealthVerdict(False, f"cannot check {board.id}: the health firmware is not usable: {exc}", 0)
    if bundle is None:
        return HealthVerdict(False, f"no health-check firmware for real boards on this host: {board.id} is not "
                                    "simulated, and benchd cannot build ESP-IDF firmware itself; set [boards] "
                                    "health_firmware to a build folder with flasher_args.json and expected.txt", 0)
    verdict = _flash_and_read(board, settings, bundle, expected, cache / "logs", timeout_s)
    _log.info("healthcheck.verdict", board=board.id, ok=verdict.ok, reason=verdict.reason)
    return verdict


def _firmware(board: Board, settings: Settings, cache: Path) -> tuple[FirmwareBundle | None, tuple[str, ...]]:
    if board.simulated:
        firmware: HealthFirmware = health_firmware(cache)
        return load_bundle(firmware.folder), firmware.expected
    if not settings.boards.health_firmware:
        return None, ()
    folder = Path(settings.boards.health_firmware)
    if not folder.is_absolute():
        folder = (settings.config.parent if settings.config else Path.cwd()) / folder
    bundle = load_bundle(folder)  # FlashError saying what is missing
    try:
        lines = (folder / EXPECTED_FILE).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BoardError(f"{folder / EXPECTED_FILE}: {exc.strerror or exc}; it holds the firmware's BENCHD_RESULT "
                         "lines as a known-good board printed them, one a line") from exc
    expected = tuple(_result_text(line) for line in lines if RESULT_PREFIX in line)
    if not expected:
        raise BoardError(f"{folder / EXPECTED_FILE} holds no BENCHD_RESULT line")
    return bundle, expected


def _flash_and_read(board: Board, settings: Settings, bundle: FirmwareBundle, expected: tuple[str, ...],
                    logs: Path, timeout_s: float) -> HealthVerdict:
    from daemon.boards.flasher import BAUDS, flash_with_retries, reset_to_app  # esptool: loaded when used

    lease = BoardLease(settings.state, board.id, settings.boards.lease_s, wait_s=LEASE_WAIT_S,
                       purpose="health-check").acquire()
    try:
        holder = read_session(settings.state, board.id)
        if holder is not None and holder.alive():
            raise SessionBusy(f"board {board.id} is in the session of {holder.describe()}, which flashed it and has "
                              "not read it yet: not health-checked")
        try:
            flash_with_retries(board.port, bundle, BAUDS, expect_mac=board.mac or None)
        except BoardError as exc:
            return HealthVerdict(False, f"flash failed: {exc}", 0)
        log_path = logs / (re.sub(r"[^A-Za-z0-9_.-]", "_", board.id) + ".log")
        usb_jtag = (board.usb or {}).get("pid") == "1001"
        try:
            outcome = watch(board.port, log_path, lambda ser: reset_to_app(ser, board.port, usb_jtag), timeout_s,
                            ConsoleJudge(count=len(expected)), heartbeat=lease.renew)
        except BoardError as exc:
            return HealthVerdict(False, f"reading the console failed after a good flash: {exc}", 0)
        return judge(outcome, expected, log_path)
    finally:
        lease.release()


def judge(outcome: ConsoleResult, expected: tuple[str, ...], log_path: Path) -> HealthVerdict:
    """The verdict on what the console showed: exactly the expected result lines, in order, and no others."""
    got = [_result_text(line) for line in outcome.lines if RESULT_PREFIX in line]
    want = len(expected)
    if len(got) < want:
        why = "" if outcome.status in ("ok", "timeout") else f" ({outcome.message})"
        return HealthVerdict(False, f"printed {len(got)} of {want} result lines in {outcome.seconds:.0f} s{why}; "
                                    f"console in {log_path}", len(got))
    for number, (line, wanted) in enumerate(zip(got, expected, strict=False), start=1):
        if _comparable(line) != _comparable(wanted):
            return HealthVerdict(False, f"result line {number} of {want} differs: {_difference(line, wanted)}; "
                                        f"console in {log_path}", len(got))
    if len(got) > want:
        return HealthVerdict(False, f"printed {len(got)} result lines, {want} expected (the extra one: "
                                    f"{got[want][:200]}); console in {log_path}", len(got))
    return HealthVerdict(True, f"printed the {want} expected result lines in {outcome.seconds:.1f} s", len(got))


def _result_text(line: str) -> str:
    """A result line from its prefix on (a log prefix before it is not the firmware's), without trailing blanks."""
    return line[line.index(RESULT_PREFIX) :].rstrip()


def _comparable(line: str) -> str:
    return _CYCLES.sub('"cycles": _', line)  # a real board's timing; the virtual core's "instructions" are exact


def _difference(line: str, wanted: str) -> str:
    """The first field that differs, with both values; the whole lines when they are not JSON objects."""
    try:
        got, want = (json.loads(text[len(RESULT_PREFIX) :]) for text in (line, wanted))
    except ValueError:
        return f"{line[:200]} != {wanted[:200]} (expected)"
    if isinstance(got, dict) and isinstance(want, dict):
        first = ("ok", "error", "out", "out_sha256")  # what the board computed, before what it measured
        for key in [*first, *want, *got]:
            if key != "cycles" and got.get(key) != want.get(key):
                return f'"{key}" is {_short(got.get(key, "missing"))}, expected {_short(want.get(key, "missing"))}'
    return f"{line[:200]} != {wanted[:200]} (expected)"


def _short(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 120 else text[:117] + "..."
