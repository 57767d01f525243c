"""`benchd status`, `runs`, `show` and `logs`: the read model (daemon.views) printed. With `[queue] url`,
`runs`, `show` and `logs` read the shared queue (daemon/commands/fleet.py)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from daemon.commands import common, fleet
from daemon.settings import Settings


def status_arguments(sub: Any) -> None:
    status = sub.add_parser("status", help="the config and folders in use, and recent runs")
    status.add_argument("--json", action="store_true")
    status.add_argument("--limit", type=int, default=20)
    common(status, run_flags=False)


def status(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.store import Store
    from daemon.views import runs as views

    store = Store(settings.db_path)
    rows = views.recent_runs(store, args.limit)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(where_from(settings) + "\n")
    print(views.format_status_table(rows))
    return 0


def where_from(settings: Settings) -> str:
    """Which benchd.toml is in use and the folders it gives (the first thing to check from a new directory)."""
    config = str(settings.config) if settings.config else "none found (folders in the user data directory)"
    lines = [f"config:    {config}", f"inbox:     {settings.inbox}", f"results:   {settings.results}",
             f"state:     {settings.state}", f"pipeline:  {settings.pipeline}"]
    return "\n".join(lines)


def runs_arguments(sub: Any) -> None:
    runs = sub.add_parser("runs", help="past runs, newest first, with their figures")
    runs.add_argument("--model", help="only this model (file name, with or without .tflite)")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true")
    common(runs, run_flags=False)


def runs(args: argparse.Namespace, settings: Settings) -> int:
    if settings.queue.url:  # the shared queue's runs, from any host
        return fleet.runs(args, settings)
    from daemon.store import Store
    from daemon.views.lookback import format_runs, run_rows

    rows = run_rows(Store(settings.db_path), settings.results, args.model, args.limit)
    print(json.dumps(rows, indent=2) if args.json else format_runs(rows))
    return 0


def show_arguments(sub: Any) -> None:
    show = sub.add_parser("show", help="a run's summary (summary.md), or its result.json with --json")
    show.add_argument("run", nargs="?", default="latest", metavar="RUN", help="a run id, its first characters, "
                                                                            "or latest (default)")
    show.add_argument("--json", action="store_true")
    common(show, run_flags=False)


def show(args: argparse.Namespace, settings: Settings) -> int:
    if settings.queue.url:
        return fleet.show(args, settings)
    from daemon.store import Store
    from daemon.views.lookback import find_run, show_json, show_text

    run = find_run(Store(settings.db_path), settings.results, args.run)
    sys.stdout.write(show_json(run) if args.json else show_text(run))
    if not args.json:
        sys.stdout.write(f"\n(folder: {run.folder})\n")
    return 0


def logs_arguments(sub: Any) -> None:
    logs = sub.add_parser("logs", help="a run's step logs")
    logs.add_argument("run", metavar="RUN", help="a run id, its first characters, or latest")
    logs.add_argument("job", nargs="?", metavar="JOB[/STEP]", help="one job, or one step of it (id or number)")
    logs.add_argument("-f", "--follow", action="store_true", help="follow a live run until it ends")
    common(logs, run_flags=False)


def logs(args: argparse.Namespace, settings: Settings) -> int:
    if settings.queue.url:
        return fleet.logs(args, settings)
    from daemon.store import Store
    from daemon.views.lookback import find_run, follow, write_logs

    store = Store(settings.db_path)
    run = find_run(store, settings.results, args.run)
    if args.follow:
        follow(run, store, args.job, sys.stdout)
    else:
        write_logs(run, args.job, sys.stdout)
    return 0
