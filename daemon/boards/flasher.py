"""The one adapter to esptool (v5 Python API): probe a port, flash a bundle, reset a board.

Sequence as esptool documents it for scripts: detect_chip -> run_stub -> change_baud -> attach_flash
-> write_flash (compressed, MD5-verified) -> reset_chip, as the build's flasher_args.json asks: the stub only
when it says `"stub": true` (else the ROM loader writes), its offsets, and its flash mode, size and frequency.
What esptool raises becomes a FlashError that names the board and says what to do; the retry policy (same
baud after a lost line, lower baud after a bad transfer) lives in `flash_with_retries`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import serial
import structlog
from esptool.cmds import attach_flash, detect_chip, detect_flash_size, reset_chip, run_stub, write_flash
from esptool.logger import TemplateLogger, log
from esptool.reset import HardReset
from esptool.targets import CHIP_DEFS
from esptool.util import FatalError

from daemon.errors import FlashError
from daemon.firmware.bundle import FirmwareBundle
from daemon.firmware.virtimage import EFUSE_USR_DATA0, SIMULATOR_MARK, is_virt_bundle

BAUDS = (2_000_000, 921_600, 460_800, 115_200)  # fastest first; each failed transfer steps down one
ROM_BAUD = 115_200
CONNECT_ATTEMPTS = 3  # x ~0.6 s: a board that does not sync within ~2 s is not going to
EXPECTED_CHIP = "ESP32-C3"
_log = structlog.get_logger("benchd.boards.flasher")


class PortBusy(FlashError):
    """Another process holds the port open (a serial monitor, another esptool)."""


class PortGone(FlashError):
    """The port does not exist or refuses connections: the board was unplugged."""


class LineLost(FlashError):
    """The connection dropped in the middle of a transfer."""


class WrongChip(FlashError):
    """The board answered, but it is not the chip the firmware was built for."""


class NotSimulated(WrongChip):
    """A `virt` image (QEMU's virt machine) was routed to a real board: only simulated boards run it."""


@dataclass
class ChipInfo:
    chip: str
    description: str
    mac: str
    flash_size: str | None
    simulated: bool = False  # the board shows benchd's simulator mark in eFuse BLOCK_USR_DATA (virtimage.py)


@dataclass
class FlashReport:
    port: str
    chip: ChipInfo
    baud: int
    seconds: float
    attempts: list[str] = field(default_factory=list)  # one line per failed attempt, for the summary
    md5: dict[str, str] = field(default_factory=dict)  # offset -> MD5 verified by esptool
    stub: bool = True  # whether esptool's stub wrote the images (else the ROM loader did)


class _StructlogBridge(TemplateLogger):
    """esptool's console output as structlog events; partial lines (`end=""`) are joined per thread."""

    def __init__(self) -> None:
        self._partial = threading.local()

    def print(self, *args: Any, **kwargs: Any) -> None:
        text = getattr(self._partial, "text", "") + kwargs.get("sep", " ").join(str(a) for a in args)
        if kwargs.get("end", "\n") == "":
            self._partial.text = text
            return
        self._partial.text = ""
        if text.strip():
            _log.debug("esptool", message=text.strip())

    def note(self, message: str) -> None:
        _log.debug("esptool", note=message)

    def warning(self, message: str) -> None:
        _log.info("esptool", warning=message)

    def error(self, message: str) -> None:
        _log.warning("esptool", error=message)

    def stage(self, finish: bool = False) -> None:
        pass

    def progress_bar(self, *args: Any, **kwargs: Any) -> None:
        pass

    def set_verbosity(self, verbosity: str) -> None:
        pass


_bridge: _StructlogBridge | None = None


def _route_esptool_log() -> None:
    global _bridge
    if _bridge is None:
        _bridge = _StructlogBridge()
        log.set_logger(_bridge)


def has_control_lines(port: str) -> bool:
    """TCP ports and ptys have no DTR/RTS: esptool cannot reset through them, a watchdog can."""
    if port.startswith("socket://"):
        return False
    return not os.path.realpath(port).startswith("/dev/pts/")


def _classify(port: str, exc: BaseException) -> FlashError:
    text = " ".join(str(exc).split())  # esptool wraps its messages over lines
    if "exclusively lock" in text or "Device or resource busy" in text or "[Errno 16]" in text:
        return PortBusy(f"{port} is held by another process (a serial monitor or another esptool?): "
                        f"close it, `fuser {port}` shows who has it ({text})")
    if "could not open port" in text.lower() or "Connection refused" in text or "No such file" in text:
        return PortGone(f"{port} is gone ({text}): the board was unplugged or reset its USB; "
                        "check the cable, then run `benchd boards` to see what is attached")
    if isinstance(exc, serial.SerialException) or "disconnected" in text or "stopped" in text:
        return LineLost(f"lost the connection to {port} ({text}): check the USB cable and hub")
    return FlashError(f"esptool failed on {port}: {text}")


@contextmanager
def connect(port: str) -> Iterator[Any]:
    """An ESPLoader for the chip on `port`, closed on exit whatever happens."""
    before = "default-reset" if has_control_lines(port) else "no-reset"
    esp = None
    try:
        _route_esptool_log()
        esp = detect_chip(port, ROM_BAUD, before, connect_attempts=CONNECT_ATTEMPTS)
        yield esp
    except (FatalError, serial.SerialException, OSError) as exc:
        if isinstance(exc, FlashError):
            raise
        raise _classify(port, exc) from exc
    finally:
        if esp is not None and esp._port is not None:
            esp._port.close()


def _info(esp: Any) -> ChipInfo:
    mac = ":".join(f"{b:02x}" for b in esp.read_mac())
    try:
        if esp.CHIP_NAME == EXPECTED_CHIP:
            attach_flash(esp)  # the ROM routes SPI1 to the flash only after SPI_ATTACH: before, the id reads 0
        size = detect_flash_size(esp) if esp.CHIP_NAME == EXPECTED_CHIP else None
    except FatalError:
        size = None
    return ChipInfo(esp.CHIP_NAME, esp.get_chip_description(), mac, size, _is_simulated(esp))


def _is_simulated(esp: Any) -> bool:
    """Reads eFuse BLOCK_USR_DATA (harmless on any C3) for the simulator's mark."""
    if esp.CHIP_NAME != EXPECTED_CHIP:
        return False
    words = [esp.read_reg(EFUSE_USR_DATA0 + 4 * i) for i in range(len(SIMULATOR_MARK) // 4)]
    return b"".join(word.to_bytes(4, "little") for word in words) == SIMULATOR_MARK


def _reset_after(esp: Any, port: str) -> None:
    if has_control_lines(port):
        reset_chip(esp, "hard-reset")
    elif esp.CHIP_NAME == EXPECTED_CHIP:
        reset_chip(esp, "watchdog-reset")  # the one reset that travels over the protocol itself


def probe(port: str) -> ChipInfo:
    """Chip, revision, MAC and flash size of the board on `port`; the board is reset into its app after."""
    with connect(port) as esp:
        info = _info(esp)
        _reset_after(esp, port)
        return info


def flash_once(port: str, bundle: FirmwareBundle, baud: int, expect_mac: str | None = None) -> FlashReport:
    start = time.monotonic()
    with connect(port) as esp:
        try:
            if esp.CHIP_NAME != EXPECTED_CHIP:
                raise WrongChip(f"the board on {port} is an {esp.CHIP_NAME}, not an {EXPECTED_CHIP}: "
                                "not flashed; unplug it or add it to boards.deny in benchd.toml")
            info = _info(esp)
            if expect_mac and info.mac != expect_mac:
                raise WrongChip(f"{port} now holds another board (MAC {info.mac}, expected {expect_mac}): boards "
                                "were swapped since discovery; not flashed, run `benchd boards` again")
            if is_virt_bundle([image.data for image in bundle.images]) and not info.simulated:
                raise NotSimulated(f"the board on {port} (MAC {info.mac}) is a real {EXPECTED_CHIP}, and "
                                   f"{bundle.folder} holds a `virt` image, built for QEMU's virt machine (benchd's "
                                   "simulated boards), which a real chip cannot boot: not flashed. Flash the ESP-IDF "
                                   "firmware job's build to real boards; `benchd boards simulate` gives boards that "
                                   "run virt images")
            if bundle.chip != "esp32c3":
                raise WrongChip(f"{bundle.folder} was built for {bundle.chip} (flasher_args.json), not the "
                                f"{EXPECTED_CHIP} on {port}: not flashed; rebuild for esp32c3")
            if bundle.stub:  # `"stub": false`: the project asked for the ROM loader (ESPTOOLPY_NO_STUB)
                esp = run_stub(esp)
            if baud != ROM_BAUD:
                esp.change_baud(baud)
            attach_flash(esp)
            esp.WRITE_FLASH_ATTEMPTS = 1  # our own retry policy decides; esptool's waits 7 s per try
            write_flash(esp, [(image.offset, image.data) for image in bundle.images],
                        flash_mode=bundle.flash_mode, flash_size=bundle.flash_size, flash_freq=bundle.flash_freq,
                        compress=True, no_progress=True)
            _reset_after(esp, port)
        except (FatalError, serial.SerialException, OSError) as exc:
            raise _classify(port, exc) from exc
    md5 = {f"{image.offset:#x}": image.md5 for image in bundle.images}
    return FlashReport(port, info, baud, time.monotonic() - start, md5=md5, stub=bundle.stub)


def flash_with_retries(port: str, bundle: FirmwareBundle, bauds: Sequence[int] = BAUDS,
                       max_attempts: int = 3, replug_wait_s: float = 1.0,
                       expect_mac: str | None = None) -> FlashReport:
    """Flash, retrying a lost line once at the same baud and a bad transfer at the next lower baud."""
    failures: list[str] = []
    level, lost = 0, 0
    for attempt in range(1, max_attempts + 1):
        baud = bauds[min(level, len(bauds) - 1)]
        log = _log.bind(port=port, attempt=attempt, baud=baud)
        try:
            report = flash_once(port, bundle, baud, expect_mac)
        except (WrongChip, PortBusy, PortGone):
            raise  # retrying changes none of these
        except LineLost as exc:
            lost += 1
            failures.append(f"attempt {attempt} at {baud} baud: {exc}")
            log.warning("flash.line_lost", error=str(exc))
            if lost >= 2:
                raise LineLost(f"{port} dropped the connection twice while being flashed; it is retried once, "
                               f"then given up: check the USB cable and hub. {'; '.join(failures)}") from exc
            time.sleep(replug_wait_s)  # let a re-enumerating USB device come back
            continue
        except FlashError as exc:
            failures.append(f"attempt {attempt} at {baud} baud: {exc}")
            log.warning("flash.failed", error=str(exc))
            if level + 1 >= len(bauds):
                break
            level += 1
            continue
        report.attempts = failures
        return report
    raise FlashError(f"could not flash {port} after {len(failures)} attempts ({'; '.join(failures)}); if the MD5 "
                     "differs at every baud the board's flash may be worn or the image too big for it")


def reset_to_app(ser: serial.Serial, port: str, usb_jtag: bool = False) -> None:
    """Reset the board behind an already-open port, so the caller reads the boot from its first line."""
    _route_esptool_log()
    try:
        if has_control_lines(port):
            HardReset(ser, usb_jtag)()
            return
        # No lines: stop the app through the loader (see the simulator notes), then the watchdog reset.
        esp = CHIP_DEFS["esp32c3"](ser, ROM_BAUD)
        esp.connect("no-reset", CONNECT_ATTEMPTS)
        esp.watchdog_reset()
    except (FatalError, serial.SerialException, OSError) as exc:
        raise _classify(port, exc) from exc

