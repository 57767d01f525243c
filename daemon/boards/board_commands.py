"""`benchd boards [--json]`, `benchd boards simulate`, `benchd boards release ID`, `benchd boards check ID`:
this machine's boards. With `[queue] url` the listing and `release` are the fleet's (daemon/commands/fleet.py)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from typing import Any

from daemon.errors import BoardError, ConfigError
from daemon.settings import Settings


def add_arguments(subparsers: Any) -> Any:
    """The `boards` parser; returns its subcommands, to which the fleet's verbs are added (commands/fleet.py)."""
    boards = subparsers.add_parser("boards", help="attached boards (with [queue] url: the fleet's); simulate "
                                   "boards; release a quarantined one")
    boards.add_argument("--json", action="store_true", help="print the boards as JSON")
    boards.add_argument("--config", help="benchd.toml (default: $BENCHD_CONFIG or ./benchd.toml)")
    boards.add_argument("--state", help="state folder (default data/state)")
    sub = boards.add_subparsers(dest="boards_command")
    sim = sub.add_parser("simulate", help="serve simulated ESP32-C3 boards on socket:// ports until stopped")
    sim.add_argument("--count", type=int, default=1)
    sim.add_argument("--chip", choices=["esp32c3", "esp32"], default="esp32c3")
    sim.add_argument("--fault", action="append", default=[], help="unplug, unplug-once, bad-md5, silent, "
                     "boot-loop, panic, wrong-chip, bad-output (flips the low bit of every output value it "
                     "prints: a bad board for dry runs of the health check); repeatable, applies to every board")
    sim.add_argument("--pty", action="store_true", help="serve ptys (/dev/pts/N) instead of TCP ports")
    sim.add_argument("--mac-base", type=lambda v: int(v, 0), default=None,
                     help="fourth MAC byte of the simulated boards (default: from the process id)")
    sim.add_argument("--pacing", action="store_true", help="take as long as a real UART at the current baud")
    release = sub.add_parser("release", help="take a board out of quarantine (with [queue] url: back to "
                             "`unknown`, a health check before its next job)")
    release.add_argument("id")
    release.add_argument("--reason", help="why, for the board's health log")
    check = sub.add_parser("check", help="health check: probe a board; releases it from quarantine if it answers")
    check.add_argument("id")
    return sub


def main(args: argparse.Namespace, settings: Settings) -> int:
    command = getattr(args, "boards_command", None)
    if command == "simulate":
        return simulate(args)
    from daemon.boards.health import BoardHealth

    health = BoardHealth(settings.db_path, settings.boards.quarantine_after)
    if command == "release":
        if not health.release(args.id, args.reason or "released by hand"):
            raise BoardError(f"benchd has never seen a board {args.id!r}; `benchd boards` lists the known ids")
        print(f"released {args.id}: it takes part in the next run")
        return 0
    from daemon.boards.discovery import discover

    boards = discover(settings.boards, settings.state)
    if command == "check":
        board = next((b for b in boards if args.id in (b.id, b.port)), None)
        if board is None or board.error or board.chip != "ESP32-C3":
            why = "not attached" if board is None else board.error or f"it is an {board.chip}"
            print(f"health check of {args.id} failed: {why}")
            return 1
        health.release(board.id, "passed a health check (probe)")
        print(f"{board.id} answered ({board.revision}, MAC {board.mac}): released")
        return 0
    if args.json:
        print(json.dumps([{**b.to_dict(), "state": b.state} for b in boards], indent=2))
        return 0
    if not boards:
        print("no boards found (known USB IDs: 303A:1001, 10C4:EA60, 1A86:7523, 0403:6001; or set boards.ports)")
        return 0
    print(f"{'ID':<16} {'PORT':<28} {'CHIP':<10} {'MAC':<18} {'FLASH':<6} STATE")
    for b in boards:
        usb = f" usb {b.usb['vid']}:{b.usb['pid']}" if b.usb else ""
        print(f"{b.id:<16} {b.port:<28} {b.chip:<10} {b.mac:<18} {b.flash_size or '-':<6} {b.state}{usb}")
    return 0


def simulate(args: argparse.Namespace) -> int:
    from daemon.boards.sim.host import BoardSimulator

    if args.count < 1:
        raise ConfigError("--count must be at least 1")
    # Boards of two simulator processes must not share MACs (ids); within one process they are numbered.
    sim = BoardSimulator.make(args.count, args.chip, args.fault, mac_base=args.mac_base or os.getpid() & 0xFF,
                              pty=args.pty, pacing=args.pacing)  # BoardError on an unknown fault or chip
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with sim:
            for port in sim.ports:
                print(port, flush=True)
            stop.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
