"""`benchd run`, `benchd rerun` and `benchd cancel`: a run in the foreground, and a cancel from elsewhere."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from daemon.commands import common
from daemon.errors import BenchdError
from daemon.record.status import exit_code
from daemon.settings import Settings


def run_arguments(sub: Any) -> None:
    run = sub.add_parser("run", help="run the pipeline on one model in the foreground")
    run.add_argument("model", help="path to a .tflite model")
    run.add_argument("--pipeline", help="a pipeline name (built in, or pipelines/NAME.yml beside benchd.toml) "
                                        "or a workflow file")
    run.add_argument("--force", action="store_true", help="run even if this content already has a result")
    run.add_argument("--json", action="store_true", help="print result.json on stdout")
    common(run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    model = Path(args.model)
    if not model.exists() and not model.is_symlink():
        raise BenchdError(f"{model} not found")
    from daemon.commands.foreground import refuse_non_model, run_in_foreground

    refuse_non_model(model)  # before the store is opened: a wrong file leaves no record behind
    return exit_code(run_in_foreground(settings, model, force=args.force, json_out=args.json).status)


def rerun_arguments(sub: Any) -> None:
    rerun = sub.add_parser("rerun", help="run a past run's model again with the same pipeline (a new run)")
    rerun.add_argument("run", metavar="RUN", help="a run id, its first characters, or latest")
    rerun.add_argument("--json", action="store_true", help="print result.json on stdout")
    common(rerun)


def rerun(args: argparse.Namespace, settings: Settings) -> int:
    """The model of a past run (its snapshot), with the pipeline file it ran, as a new forced run, shown here
    as `benchd run` shows one (store/controls.py makes the same run for the dashboard's button)."""
    from daemon.store import Store
    from daemon.store.controls import rerun as queue_rerun
    from daemon.views.lookback import find_run

    store = Store(settings.db_path)
    past = find_run(store, settings.results, args.run)
    again = queue_rerun(store, past.row.id)
    if not again.queued:
        raise BenchdError(f"run {past.row.id} is being run again already, as {again.run_id}: "
                          f"`benchd logs {again.run_id} -f` follows it")
    sys.stderr.write(f"rerun of {past.row.id}: {past.row.model_name} as run {again.run_id}\n")
    from daemon.commands.foreground import run_in_foreground

    record = run_in_foreground(settings, Path(past.row.model_name), force=True, json_out=args.json, queued=again.run_id)
    return exit_code(record.status)


def cancel_arguments(sub: Any) -> None:
    cancel = sub.add_parser("cancel", help="cancel a queued or running run (it ends `cancelled`)")
    cancel.add_argument("run", metavar="RUN", help="a run id, its first characters, or latest")
    cancel.add_argument("--wait", type=float, default=20.0, metavar="S", help="wait this long for it to end")
    common(cancel, run_flags=False)


def cancel(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 once the run ended cancelled, 1 if it ended otherwise first, 2 if there was nothing to cancel."""
    from daemon.commands.foreground import cancel_and_wait
    from daemon.store import Store
    from daemon.views.lookback import find_run

    store = Store(settings.db_path)
    return cancel_and_wait(store, find_run(store, settings.results, args.run).row.id, sys.stdout, args.wait)
