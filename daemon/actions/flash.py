"""`benchd/flash`: write the firmware job's images to one board, verified, in this job's session of the board.

The session (daemon/boards/session.py) is held from here to the end of benchd/monitor in the same job: another
run's flash waits (lock-timeout) instead of reflashing the board in between.

Inputs (`with:`): board (an id from `boards.esp32c3`, or a port), firmware (folder with
flasher_args.json; default $BENCHD_WORKSPACE/firmware), baud (top of the fallback ladder, 2000000),
lock-timeout (seconds to wait for a board another job holds, 300), backend (reference-c | tvm: whose archive the
firmware was built from; its record is then boards/<id>/flash-<backend>.json, so two firmwares on one board
keep apart). The record carries ROM and RAM from the build's map file and the inputs the firmware runs
(benchd-vectors.bin, written by benchd-build-firmware), for benchd/monitor.
Outputs: flash_s, baud, mac. A failure is recorded in the board's health and in metrics.boards[].
A `virt` bundle (daemon/firmware/virtimage.py) goes only to simulated boards: for a real one the step fails
with the reason before anything is written, and the board's health is left alone (not its fault).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from daemon.actions.context import ActionContext, ActionError
from daemon.boards.discovery import find_board
from daemon.boards.health import BoardHealth
from daemon.boards.lease import LeaseBusy
from daemon.boards.mapfile import memory_usage
from daemon.boards.session import BoardSession, SessionOwner
from daemon.boards.stepenv import board_dir, board_settings, state_dir
from daemon.errors import BoardError
from daemon.firmware.bundle import load_bundle
from daemon.firmware.virtimage import is_virt_bundle, read_bundle_info

VECTORS = "benchd-vectors.bin"  # raw int8 inputs beside flasher_args.json (docker/espidf/benchd-build-firmware)


def flash_record(backend: str | None) -> str:
    """The file in boards/<id>/ that tells benchd/monitor what was flashed (one per backend)."""
    if backend and not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", backend):
        raise ActionError(f"backend must be a short name such as reference-c or tvm, not {backend!r}")
    return f"flash-{backend}.json" if backend else "flash.json"


def run(ctx: ActionContext) -> None:
    from daemon.boards.flasher import BAUDS, NotSimulated, flash_with_retries  # esptool: this process only

    ref = ctx.require("board")
    firmware = Path(ctx.get("firmware") or ctx.workspace / "firmware")
    backend = ctx.get("backend")
    flash_record(backend)  # a bad label fails before the board is touched
    top = ctx.get_int("baud", BAUDS[0])
    bauds = tuple(b for b in BAUDS if b <= top) or (BAUDS[-1],)
    state, settings = state_dir(ctx.env, ctx.workspace), board_settings(ctx.env, ctx.workspace)
    run_id = ctx.env.get("BENCHD_RUN_ID", "")
    bundle = load_bundle(firmware)
    board = find_board(ref, ctx.workspace, settings, state)
    health = BoardHealth(state / "benchd.sqlite3", settings.quarantine_after)
    if health.is_quarantined(board.id):
        raise ActionError(f"board {board.id} is quarantined after {settings.quarantine_after} failed runs in a row "
                          f"(last: {health.status(board.id)['last_error']}); not flashed. Fix it, then "
                          f"`benchd boards release {board.id}`")
    if board.chip not in ("ESP32-C3", "unknown"):
        raise ActionError(f"board {board.id} on {board.port} is an {board.chip}, not an ESP32-C3: skipped, not "
                          "flashed; add it to boards.deny or unplug it")
    entry = {"id": board.id, "port": board.port, "chip": board.chip, "mac": board.mac, "backend": backend}
    # Whether the board may take a virt image is asked of the board itself, on the wire, by the flasher
    # (NotSimulated): discovery's record can be stale (a leased board is listed from its last sighting).
    virt = is_virt_bundle([image.data for image in bundle.images])
    session = BoardSession(state, board.id, SessionOwner.of_step(ctx.env, ctx.workspace), settings.lease_s)
    start = time.monotonic()
    try:
        with session.open(wait_s=ctx.get_float("lock-timeout", 300.0)) as lease:
            if lease.recovered_from:
                print(f"::warning::board {board.id}: took over the lease of pid {lease.recovered_from}, "
                      "which died while holding it", flush=True)
            if session.taken_over:
                print(f"::warning::board {board.id}: took over the session of {session.taken_over.describe()}, "
                      "which is no longer running", flush=True)
            try:
                report = flash_with_retries(board.port, bundle, bauds, expect_mac=board.mac or None)
            except BoardError:
                session.end()  # nothing of this job's is on the board to keep
                raise
    except (NotSimulated, LeaseBusy) as exc:  # not the board's fault: its health is left alone
        status = "refused" if isinstance(exc, NotSimulated) else "busy"
        ctx.add_metrics("boards", [{**entry, "status": status, "error": str(exc)}])
        raise ActionError(f"benchd/flash: board {board.id}: {exc}") from exc
    except BoardError as exc:
        health.record(board.id, "flash", False, str(exc), run_id)
        ctx.add_metrics("boards", [{**entry, "status": "flash-failed", "flash_s": round(time.monotonic() - start, 3),
                                    "error": str(exc)}])
        raise ActionError(f"benchd/flash: board {board.id}: {exc}") from exc
    health.record(board.id, "flash", True, f"{bundle.size} bytes at {report.baud} baud", run_id)
    flashed = {**entry, "chip": report.chip.chip, "mac": report.chip.mac, "revision": report.chip.description,
               "flash_size": report.chip.flash_size, "flash_s": round(report.seconds, 3), "baud": report.baud,
               "retries": report.attempts, "images": report.md5, "image": "virt" if virt else "esp-idf",
               "stub": report.stub}
    if virt:  # what the monitor needs to check the executed outputs against the reference
        info = read_bundle_info(firmware)
        flashed.update(vectors=str(info.vectors) if info.vectors else None, backend=backend or info.backend)
    else:
        raw = firmware / VECTORS
        flashed.update(vectors=str(raw) if raw.is_file() else None, backend=backend)
        if (usage := memory_usage(firmware)) is not None:
            flashed.update(rom_bytes=usage.rom_bytes, ram_bytes=usage.ram_bytes, map_file=usage.map_file)
    folder = board_dir(ctx.workspace, board.id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / flash_record(backend)).write_text(json.dumps(flashed, indent=2), encoding="utf-8")
    for key in ("flash_s", "baud", "mac"):
        ctx.set_output(key, flashed[key])
    retried = f", after {len(report.attempts)} failed attempt(s)" if report.attempts else ""
    label = f" with {backend}'s firmware" if backend else ""
    ctx.summary(f"- flashed `{board.id}`{label} ({report.chip.description}, {board.port}): {bundle.size} bytes in "
                f"{report.seconds:.1f} s at {report.baud} baud, MD5 verified{retried}")
    print(f"flashed {board.id} on {board.port}: {bundle.size} bytes in {report.seconds:.1f} s at {report.baud} baud"
          f"{retried}", flush=True)
