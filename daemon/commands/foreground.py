"""A run in the foreground (`benchd run`) that Ctrl-C cancels, and `benchd cancel RUN` for a run elsewhere.

The first SIGINT or SIGTERM prints `cancelling… (Ctrl-C again to force)` and cancels the run: its steps'
process groups get SIGTERM, then SIGKILL after 5 s, its containers are stopped and removed, and the run
ends `cancelled` with the reason in its errors. A second one kills what is left at once and removes the
containers; if the run still has not ended a few seconds later, benchd marks it cancelled and leaves.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from daemon.app.signals import interrupts
from daemon.errors import BenchdError
from daemon.record import RunRecord
from daemon.settings import Settings
from daemon.store import RUN_DONE, Store
from daemon.store.rows import RunRow

FORCE_WAIT_S = 10.0  # after a second Ctrl-C, how long the run may take to end before benchd leaves anyway


def run_interruptibly(daemon: Any, row: RunRow, out: IO[str] = sys.stderr) -> RunRecord:
    """daemon.execute(row) on a thread, with SIGINT/SIGTERM cancelling the run rather than leaving it running."""
    done: dict[str, Any] = {}

    def execute() -> None:
        try:
            done["record"] = daemon.execute(row)
        except BaseException as exc:  # handed to the main thread
            done["error"] = exc

    forced_at: float | None = None

    def on_interrupt(presses: int, how: str) -> None:
        nonlocal forced_at
        reason = f"cancelled by the user ({how} on `benchd run`)"
        if presses == 1:
            out.write("cancelling… (Ctrl-C again to force)\n")
        else:
            out.write("forcing: killing the steps and removing their containers now\n")
            forced_at = forced_at or time.monotonic()
        out.flush()
        threading.Thread(target=_cancel, args=(daemon, row.id, reason, presses > 1), name="benchd-cancel",
                         daemon=True).start()

    worker = threading.Thread(target=execute, name="benchd-run", daemon=True)
    with interrupts(on_interrupt):
        daemon.start_controls()  # `benchd cancel` from another terminal reaches this run too
        try:
            worker.start()
            while worker.is_alive():
                worker.join(0.1)
                if forced_at is not None and time.monotonic() - forced_at > FORCE_WAIT_S:
                    _give_up(daemon.store, row)
        finally:
            daemon.stop_controls()
    if "error" in done:
        raise done["error"]
    record: RunRecord = done["record"]
    return record


def _cancel(daemon: Any, run_id: str, reason: str, force: bool) -> None:
    """Recorded first (should this process die now, no daemon resumes the run: it ends cancelled), then done."""
    from daemon.store.controls import ControlError, request_cancel

    try:
        request_cancel(daemon.store, run_id, source="signal")
    except ControlError:
        pass  # it has just ended
    daemon.runner.cancel_run(run_id, reason, force)


def _give_up(store: Store, row: RunRow) -> None:
    """The run did not end after a forced cancel (a hung engine call): recorded as cancelled, then exit."""
    store.finish_run(row.id, "cancelled", "cancelled by the user (forced; the run did not stop in time)", None)
    store.mark_filed(row.id)
    raise SystemExit(130)


def cancel_and_wait(store: Store, run_id: str, out: IO[str], wait_s: float = 20.0) -> int:
    """`benchd cancel RUN`: ask whoever runs it (`benchd watch`, `benchd run`) to cancel it, and wait for
    the run to end. 0: it ended cancelled; 1: it ended otherwise first; 2: not ended in time."""
    from daemon.store.controls import request_cancel

    row = request_cancel(store, run_id, source="cli")  # ControlError (a BenchdError) when there is nothing to do
    out.write(f"cancelling run {row.id} ({row.model_name}, {row.status})…\n")
    out.flush()
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        now = store.get_run(row.id)
        if now is not None and now.status in RUN_DONE:
            out.write(f"{now.status}: run {row.id}\n")
            return 0 if now.status == "cancelled" else 1
        time.sleep(0.2)
    raise BenchdError(f"run {row.id} has not stopped within {wait_s:.0f} s: no `benchd watch` or `benchd run` is "
                      "handling it right now; the request stays, and the run ends cancelled when benchd takes it up")


def refuse_non_model(path: Path) -> None:
    """A TFLite model is a flatbuffer with the identifier `TFL3` at byte 4; anything else is exit 2."""
    if not path.is_file():
        raise BenchdError(f"{path} is not a regular file: give the path of a .tflite model")
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise BenchdError(f"cannot read {path}: {exc.strerror}") from exc
    if head[4:8] != b"TFL3":
        raise BenchdError(f"{path} is not a TFLite model (a .tflite file has the identifier TFL3 at byte 4); "
                          "nothing was recorded")


def run_in_foreground(settings: Settings, model: Path, force: bool, json_out: bool,
                      queued: str | None = None) -> RunRecord:
    """One model through the same intake and runner as `benchd watch`, shown as it goes (or, with `queued`,
    a run already in the store: a rerun); its record (cli.py turns its status into the exit code)."""
    from daemon.app.service import Daemon
    from daemon.intake.intake import Changing, Duplicate, Pending, Queued
    from daemon.reporters.terminal import display_for, last_line, notes

    display = display_for(sys.stderr, json_only=json_out)
    daemon = Daemon(settings, progress=display)  # the display is a journal subscriber, as the reporters are
    store = daemon.store
    with display:
        decision = daemon.drop(model, force=force, move=False) if queued is None else Queued(queued)
        if decision is None:
            raise BenchdError(f"{model} disappeared before benchd could read it")
        if isinstance(decision, Queued):
            row = store.claim_run(decision.run_id)
            if row is None:
                raise BenchdError(f"run {decision.run_id} was taken by a running daemon (benchd watch): "
                                  f"`benchd logs {decision.run_id} -f` follows it")
            record = run_interruptibly(daemon, row)  # Ctrl-C cancels it: it ends `cancelled`, never stays running
    if isinstance(decision, Pending) and (row := store.get_run(decision.run_id)) and row.status not in RUN_DONE:
        raise BenchdError(f"{model} is being run already, as run {decision.run_id}: "
                          f"`benchd logs {decision.run_id} -f` follows it")
    if isinstance(decision, Changing):
        raise BenchdError(f"{model} changed while benchd read it: wait until it is written, then run it again")
    if isinstance(decision, Queued):
        from daemon.reporters.registry import flush_deliveries

        pending = flush_deliveries(settings, store, timeout_s=15)
        if pending:
            sys.stderr.write(f"  {pending} webhook delivery(ies) pending: `benchd watch` will retry them\n")
    done = store.get_run(decision.run_id)
    if done is None or not done.result_dir:
        raise BenchdError(f"run {decision.run_id} has no result yet; see `benchd status`")
    folder = Path(done.result_dir)
    if not isinstance(decision, Queued):
        record = RunRecord.from_json((folder / "result.json").read_text(encoding="utf-8"))
    if isinstance(decision, Duplicate):
        sys.stderr.write(f"same content and pipeline as run {decision.of_run}: not run again (`benchd run --force` "
                         f"runs it anyway; `benchd show {decision.of_run}` shows it)\n")
    sys.stderr.write("".join(line + "\n" for line in notes(record)) + last_line(record, folder) + "\n")
    sys.stderr.flush()
    if json_out:
        sys.stdout.write(record.to_json())
    return record
