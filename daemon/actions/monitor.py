"""`benchd/monitor`: reset one board with its console already open and read until the expected output.

Inputs (`with:`): board, expect (regex, default BENCHD_RESULT), count (matches needed, 1),
timeout-seconds (30), boot-loop-after (ROM resets that make a loop, 3), lock-timeout (300), backend (the label
benchd/flash was given: reads its flash-<backend>.json and writes monitor-<backend>.log, so the two firmwares of
one board stay apart in metrics.boards[]).
Only the job that flashed the board reads it (its session, daemon/boards/session.py, ends with the last line
read); result lines that carry another model's sha256 than the run's fail the step.
The full console goes to $BENCHD_WORKSPACE/boards/<id>/monitor.log; `BENCHD_RESULT {json}` lines (version 1
or 2, daemon/firmware/resultline.py) become this board's entry in metrics.boards[] (merged with what
benchd/flash measured): cycles (real board) or instructions (a virtual core) per inference, and the outputs.
A board flashed with a `virt` image runs it (daemon/boards/sim/virtapp.py): its outputs are checked against the
TFLite reference kernels on the vectors the bundle was built with, as benchd/virtual-core checks its own
(`bit_exact`: how many equal); so are an ESP-IDF firmware's, on the raw int8 inputs it was built with
(benchd-vectors.bin). For the reference backend a difference fails the step.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from daemon.actions.context import ActionContext, ActionError
from daemon.actions.flash import flash_record
from daemon.boards.console import ConsoleJudge, ConsoleResult, watch
from daemon.boards.discovery import find_board
from daemon.boards.health import BoardHealth
from daemon.boards.lease import LeaseBusy
from daemon.boards.session import BoardSession, NotInSession, SessionOwner
from daemon.boards.stepenv import board_dir, board_settings, state_dir
from daemon.errors import BoardError
from daemon.firmware.resultline import InferenceResult, ResultLineError, parse_result
from daemon.modelfile import describe_model
from daemon.virtcore.reference import (  # the interpreter loads only when called
    decode_output,
    exact_flags,
    reference_outputs,
)


def board_entry(flashed: dict[str, Any], outcome: ConsoleResult, log: str,
                expected: list[np.ndarray] | None = None) -> dict[str, Any]:
    """One metrics.boards[] entry (ARCHITECTURE.md section 4) from the flash record and the console;
    with `expected` (the reference outputs of the flashed vectors), also how many outputs are bit-exact."""
    results = _parsed(outcome.results)
    cycles = [r.cycles for r in results if r.cycles is not None]
    instructions = [r.instructions for r in results if r.instructions is not None]
    shas = sorted({r.model_sha256 for r in results if r.model_sha256})
    # "out" is the output's bytes: an int16/float32 output (known from the reference's) is shown as its values
    wide = expected[0].dtype.name if expected and expected[0].dtype.name in ("int16", "float32") else "int8"
    return {
        **{k: flashed.get(k) for k in ("id", "port", "chip", "mac", "revision", "flash_size", "flash_s", "baud",
                                      "backend", "rom_bytes", "ram_bytes", "stub")},
        "status": outcome.status,
        "cycles_per_inference": int(statistics.median(cycles)) if cycles else None,
        "instructions": int(statistics.median(instructions)) if instructions else None,
        "top": [list(pair) for pair in results[-1].top] if results else [],
        "outputs": [decode_output(r.out, wide) if r.out is not None else r.out_sha256 for r in results
                    if r.version >= 2] or None,
        "inferences": len(results),
        "image": flashed.get("image"),
        "bit_exact": sum(exact_flags(results, expected)) if expected is not None else None,
        "vectors": len(expected) if expected is not None else None,
        "all_ok": bool(results) and len(results) == len(outcome.results) and all(r.ok for r in results),
        "model_sha256": shas[0] if len(shas) == 1 else shas,
        "resets": outcome.resets,
        "monitor_s": round(outcome.seconds, 3),
        "log": log,
        "error": None if outcome.ok else outcome.message,
    }


def _parsed(lines: list[dict[str, Any]]) -> list[InferenceResult]:
    """The results that keep the line contract; a broken one is dropped here and fails all_ok."""
    parsed = []
    for value in lines:
        try:
            parsed.append(parse_result(value))
        except ResultLineError as exc:
            print(f"::warning::{exc}", flush=True)
    return parsed


def run(ctx: ActionContext) -> None:
    from daemon.boards.flasher import reset_to_app  # esptool loads in this step process only

    ref = ctx.require("board")
    timeout_s = ctx.get_float("timeout-seconds", 30.0)
    judge = ConsoleJudge(ctx.get("expect", "BENCHD_RESULT") or "BENCHD_RESULT", ctx.get_int("count", 1),
                         ctx.get_int("boot-loop-after", 3))
    state, settings = state_dir(ctx.env, ctx.workspace), board_settings(ctx.env, ctx.workspace)
    run_id = ctx.env.get("BENCHD_RUN_ID", "")
    board = find_board(ref, ctx.workspace, settings, state)
    folder = board_dir(ctx.workspace, board.id)
    backend = ctx.get("backend")
    flash_file = folder / flash_record(backend)
    flashed = json.loads(flash_file.read_text()) if flash_file.is_file() else {
        "id": board.id, "port": board.port, "chip": board.chip, "mac": board.mac, "backend": backend}
    log_path = folder / (f"monitor-{backend}.log" if backend else "monitor.log")
    usb_jtag = (board.usb or {}).get("pid") == "1001"
    health = BoardHealth(state / "benchd.sqlite3", settings.quarantine_after)
    session = BoardSession(state, board.id, SessionOwner.of_step(ctx.env, ctx.workspace), settings.lease_s)
    try:
        with session.join(wait_s=ctx.get_float("lock-timeout", 300.0)) as lease:
            try:
                outcome = watch(board.port, log_path, lambda ser: reset_to_app(ser, board.port, usb_jtag),
                                timeout_s, judge, heartbeat=lease.renew)
            finally:
                session.end()  # the last line is read: the board is free for the next job
    except (NotInSession, LeaseBusy) as exc:  # not the board's fault: its health is left alone
        raise ActionError(f"benchd/monitor: {exc}") from exc
    except BoardError as exc:
        health.record(board.id, "run", False, str(exc), run_id)
        ctx.add_metrics("boards", [{**flashed, "status": "error", "error": str(exc), "log": str(log_path)}])
        raise ActionError(f"benchd/monitor: board {board.id}: {exc}") from exc
    entry = board_entry(flashed, outcome, str(log_path), _expected(ctx, flashed))
    if (foreign := _foreign_model(ctx.model, entry["model_sha256"])) is not None:
        ctx.add_metrics("boards", [{**entry, "status": "wrong-model", "error": foreign}])
        raise ActionError(f"benchd/monitor: board {board.id}: {foreign}; see {log_path}")
    failed = not outcome.ok or not entry["all_ok"] and bool(outcome.results)
    inexact = (entry["bit_exact"] is not None and flashed.get("backend") == "reference-c"
               and (entry["bit_exact"] < entry["vectors"] or entry["inferences"] < entry["vectors"]))
    if outcome.ok and judge.bad_results:
        print(f"::warning::board {board.id}: {len(judge.bad_results)} BENCHD_RESULT line(s) were not valid JSON, "
              f"e.g. {judge.bad_results[0]!r}", flush=True)
    health.record(board.id, "run", not failed, outcome.message, run_id)
    ctx.add_metrics("boards", [entry])
    for key in ("cycles_per_inference", "status"):
        ctx.set_output(key, entry[key] if entry[key] is not None else "")
    for key in ("instructions", "bit_exact"):
        if entry[key] is not None:
            ctx.set_output(key, entry[key])
    exact = f", {entry['bit_exact']}/{entry['vectors']} bit-exact" if entry["bit_exact"] is not None else ""
    speed = (f"{entry['instructions']} instructions/inference (executed under QEMU)" if entry["instructions"]
             else f"{entry['cycles_per_inference']} cycles/inference")
    label = f" ({backend})" if backend else ""
    rom = f", ROM {entry['rom_bytes']:,} B, RAM {entry['ram_bytes']:,} B" if entry["rom_bytes"] is not None else ""
    ctx.summary(f"- `{board.id}`{label}: {outcome.status}, {entry['inferences']} inference(s), {speed}{exact}{rom}, "
                f"log `{log_path.name}`")
    print(f"monitor {board.id}: {outcome.message}", flush=True)
    if not outcome.ok:
        raise ActionError(f"benchd/monitor: board {board.id}: {outcome.message} (log: {log_path})")
    if failed:
        raise ActionError(f"benchd/monitor: board {board.id} reported a failed inference (\"ok\": false); "
                          f"see {log_path}")
    if inexact:
        raise ActionError(f"benchd/monitor: board {board.id}: {entry['bit_exact']} of {entry['vectors']} outputs "
                          "equal the TFLite reference kernels' (the reference backend must be bit-exact); see "
                          f"metrics.boards[].outputs and {flashed.get('vectors')}")


def _foreign_model(model: Path, reported: str | list[str] | None) -> str | None:
    """Why the result lines are not this run's, when they carry another model's sha256 (ARCHITECTURE §7);
    None when they are, or when there is no model to compare with (a step run by hand without BENCHD_MODEL)."""
    if not reported or not model.is_file():
        return None
    own = hashlib.sha256(model.read_bytes()).hexdigest()
    others = [sha for sha in ([reported] if isinstance(reported, str) else reported) if sha != own]
    if not others:
        return None
    return (f"its BENCHD_RESULT lines carry model {', '.join(sha[:12] for sha in others)}…, not this run's model "
            f"{own[:12]}… ({model.name}): the board runs another model's firmware; its figures are not recorded")


def _expected(ctx: ActionContext, flashed: dict[str, Any]) -> list[np.ndarray] | None:
    """The reference outputs for the vectors the flashed image runs; None when there is nothing to compare
    against (an ESP-IDF firmware built without benchd's vectors runs the header tool's own)."""
    vectors = Path(flashed["vectors"]) if flashed.get("vectors") else None
    if flashed.get("image") != "virt" and vectors is None:
        return None
    if vectors is None or not vectors.is_file() or not ctx.model.is_file():
        print(f"::warning::board {flashed.get('id')}: outputs not checked: the bundle's vectors "
              f"({vectors}) or the model ({ctx.model}) are missing", flush=True)
        return None
    if flashed.get("image") == "virt":
        return reference_outputs(ctx.model, np.load(vectors, allow_pickle=False))
    shape = tuple(describe_model(ctx.model)["inputs"][0]["shape"])  # raw int8, back to back (benchd/vectors)
    raw = np.fromfile(vectors, dtype=np.int8)
    if raw.size == 0 or raw.size % int(np.prod(shape)):
        print(f"::warning::board {flashed.get('id')}: outputs not checked: {vectors} holds {raw.size} bytes, not "
              f"whole inputs of shape {shape}", flush=True)
        return None
    return reference_outputs(ctx.model, raw.reshape(-1, *shape))
