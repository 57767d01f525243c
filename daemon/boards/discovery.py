"""Which boards are attached: USB ports with known IDs (or the fixed ports of benchd.toml), confirmed
by asking each chip who it is through esptool, filtered by allow/deny lists, marked when quarantined.

Probing talks to every candidate at once (threads, joined before returning): four boards take about
as long as one. A board leased by a running job is not touched; it is reported from the last sighting.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import structlog
from serial.tools import list_ports

from daemon.boards.health import BoardHealth
from daemon.boards.lease import BoardLease, LeaseBusy, exclusive
from daemon.errors import BoardError, FlashError
from daemon.settings import BoardSettings

# (VID, PID) -> what sits between USB and the chip (ARCHITECTURE.md section 8)
KNOWN_USB_IDS: dict[tuple[int, int], str] = {
    (0x303A, 0x1001): "ESP32-C3 USB-Serial-JTAG",
    (0x10C4, 0xEA60): "CP210x",
    (0x1A86, 0x7523): "CH340",
    (0x0403, 0x6001): "FTDI",
}
_log = structlog.get_logger("benchd.boards.discovery")


BENCH_CHIPS = ("ESP32-C3",)  # what the pipelines flash (boards.esp32c3); another chip that answers is listed, unused


@dataclass
class Board:
    id: str
    port: str
    chip: str
    revision: str = ""
    mac: str = ""
    flash_size: str | None = None
    usb: dict[str, Any] | None = None  # {vid, pid, serial, bridge}; None for socket:// and fixed ports
    quarantined: bool = False
    simulated: bool = False  # shows benchd's simulator mark (daemon/firmware/virtimage.py): may run `virt` images
    error: str | None = None  # why the board could not be probed (busy, no answer)
    health: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def kind(self) -> str:
        return self.chip.lower().replace("-", "")

    @property
    def state(self) -> str:
        """What `benchd boards` says of it: `ok` only for a bench chip benchd flashes, answering, not quarantined."""
        if self.error:
            return "error: " + self.error
        if self.chip not in BENCH_CHIPS:
            return f"wrong chip ({self.chip}): not used"
        return "quarantined" if self.quarantined else "ok"


def board_id(usb_serial: str | None, mac: str) -> str:
    """The USB serial when there is one (the C3's own is its MAC), else the MAC; lower case, no colons."""
    raw = usb_serial or mac
    return re.sub(r"[^A-Za-z0-9_.-]", "", raw).lower()


def candidate_ports(settings: BoardSettings) -> list[tuple[str, dict[str, Any] | None]]:
    if settings.ports:
        return [(port, None) for port in settings.ports]
    found = []
    for info in list_ports.comports():
        if info.vid is None or (info.vid, info.pid) not in KNOWN_USB_IDS:
            continue
        usb = {"vid": f"{info.vid:04X}", "pid": f"{info.pid:04X}", "serial": info.serial_number,
               "bridge": KNOWN_USB_IDS[(info.vid, info.pid)]}
        found.append((info.device, usb))
    return sorted(found, key=lambda item: item[0])


def _listed(entries: Sequence[str], *names: str | None) -> bool:
    wanted = {board_id(None, e) for e in entries}
    return any(n and board_id(None, n) in wanted for n in names)


def _probe_one(port: str, usb: dict[str, Any] | None, probe: Callable[[str], Any]) -> Board:
    serial_no = (usb or {}).get("serial")
    try:
        info = probe(port)
    except FlashError as exc:
        return Board(id=board_id(serial_no, "") or board_id(None, port), port=port, chip="unknown", usb=usb,
                     error=str(exc))
    return Board(id=board_id(serial_no, info.mac), port=port, chip=info.chip, revision=info.description,
                 mac=info.mac, flash_size=info.flash_size, usb=usb, simulated=bool(getattr(info, "simulated", False)))


def _probe_free(port: str, usb: dict[str, Any] | None, last: dict[str, Any] | None, probe: Callable[[str], Any],
                state: Path | None) -> Board:
    """Probe a board under its lease; one a step is working on is listed as last seen, not opened."""
    if state is None or last is None:
        return _probe_one(port, usb, probe)
    try:
        lease = BoardLease(state, last["board_id"], purpose="discovery").acquire()
    except LeaseBusy:
        return Board(id=last["board_id"], port=port, chip=last["chip"] or "unknown", mac=last["mac"] or "", usb=usb,
                     error="in use by a running job (leased); details from the last discovery")
    try:
        return _probe_one(port, usb, probe)
    finally:
        lease.release()


def discover(settings: BoardSettings, state: Path | None = None,
             probe: Callable[[str], Any] | None = None) -> list[Board]:
    """Boards attached now. With `state`, leased boards are left alone and quarantine is applied."""
    if probe is None:
        from daemon.boards.flasher import probe as esptool_probe  # esptool loads only when boards are probed

        probe = esptool_probe
    if state is None:
        return _discover(settings, None, probe)
    # One discovery at a time: two runs starting together would open one port twice, and one of them would
    # find the board busy and list it as unknown.
    with exclusive(state / "locks" / "discovery.lock"):
        return _discover(settings, state, probe)


def _discover(settings: BoardSettings, state: Path | None, probe: Callable[[str], Any]) -> list[Board]:
    health = BoardHealth(state / "benchd.sqlite3", settings.quarantine_after) if state is not None else None
    known = {row["port"]: row for row in health.last_seen()} if health else {}
    todo, boards = [], []
    for port, usb in candidate_ports(settings):
        if _listed(settings.deny, (usb or {}).get("serial")):
            continue  # denied by USB serial: never even opened
        todo.append((port, usb, known.get(port)))
    if todo:
        with ThreadPoolExecutor(max_workers=min(8, len(todo)), thread_name_prefix="benchd-probe") as pool:
            boards += list(pool.map(lambda item: _probe_free(item[0], item[1], item[2], probe, state), todo))
    kept = []
    for board in boards:
        serial_no = (board.usb or {}).get("serial")
        if _listed(settings.deny, serial_no, board.mac):
            continue
        if settings.allow and not _listed(settings.allow, serial_no, board.mac, board.id):
            _log.info("board.not_allowed", board=board.id, port=board.port)
            continue
        if health is not None:
            board.health = health.status(board.id)
            board.quarantined = bool(board.health["quarantined"])
        kept.append(board)
    if health is not None:
        appeared, gone = health.seen([b.to_dict() for b in kept if b.chip != "unknown"])
        for bid in appeared:
            _log.info("board.appeared", board=bid)
        for bid in gone:
            _log.warning("board.disappeared", board=bid)
    return sorted(kept, key=lambda b: b.port)


def find_board(board: str, workspace: Path | None, settings: BoardSettings, state: Path | None) -> Board:
    """An id (or port) from `$BENCHD_WORKSPACE/.benchd/boards.json`, else from a fresh discovery."""
    from daemon.boards.stepenv import read_boards_file

    listed = read_boards_file(workspace).get("boards") or []
    for entry in listed:
        if board in (entry.get("id"), entry.get("port")):
            keys = Board.__dataclass_fields__
            return Board(**{k: v for k, v in entry.items() if k in keys})
    for found in discover(settings, state):
        if board in (found.id, found.port):
            return found
    if board.startswith(("socket://", "/dev/")):  # a port named directly: the flasher identifies the chip
        return Board(id=board_id(None, board), port=board, chip="unknown")
    raise BoardError(f"board {board!r} is not attached (not in boards.json and not found by a new discovery): "
                     "run `benchd boards` to see the attached boards and their ids")
