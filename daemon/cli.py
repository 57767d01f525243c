"""benchd's command line: the one place errors become exit codes (0 success, 1 failure, 2 error)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from daemon import __version__, log
from daemon.errors import BenchdError
from daemon.settings import Settings, load_settings

EXIT = {"success": 0, "failure": 1, "error": 2, "cancelled": 2}


def _common(p: argparse.ArgumentParser, run_flags: bool = True) -> None:
    p.add_argument("--config", help="benchd.toml (default: $BENCHD_CONFIG, else benchd.toml in this folder "
                                    "or a parent; none: the user data directory)")
    p.add_argument("--results", help="results folder (default: data/results beside benchd.toml)")
    p.add_argument("--state", help="state folder: SQLite store, snapshots (default: data/state beside benchd.toml)")
    if run_flags:
        p.add_argument("--executor", choices=["auto", "docker", "local"], help="where container jobs run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchd", description=__doc__)
    parser.add_argument("--version", action="version", version=f"benchd {__version__}")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        help="default: info for watch and serve, error for run and rerun (their display "
                             "shows the rest), else warning")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS.values():
        command.arguments(sub)
    return parser


def _watch_arguments(sub: Any) -> None:
    watch = sub.add_parser("watch", help="the daemon: run the pipeline on every model dropped into the inbox")
    watch.add_argument("--inbox", help="folder to watch (default data/inbox)")
    _common(watch)


def _run_arguments(sub: Any) -> None:
    run = sub.add_parser("run", help="run the pipeline on one model in the foreground")
    run.add_argument("model", help="path to a .tflite model")
    run.add_argument("--pipeline", help="a pipeline name (built in, or pipelines/NAME.yml beside benchd.toml) "
                                        "or a workflow file")
    run.add_argument("--force", action="store_true", help="run even if this content already has a result")
    run.add_argument("--json", action="store_true", help="print result.json on stdout")
    _common(run)


def _status_arguments(sub: Any) -> None:
    status = sub.add_parser("status", help="the config and folders in use, and recent runs")
    status.add_argument("--json", action="store_true")
    status.add_argument("--limit", type=int, default=20)
    _common(status, run_flags=False)


def _runs_arguments(sub: Any) -> None:
    runs = sub.add_parser("runs", help="past runs, newest first, with their figures")
    runs.add_argument("--model", help="only this model (file name, with or without .tflite)")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true")
    _common(runs, run_flags=False)


def _show_arguments(sub: Any) -> None:
    show = sub.add_parser("show", help="a run's summary (summary.md), or its result.json with --json")
    show.add_argument("run", nargs="?", default="latest", metavar="RUN", help="a run id, its first characters, "
                                                                            "or latest (default)")
    show.add_argument("--json", action="store_true")
    _common(show, run_flags=False)


def _logs_arguments(sub: Any) -> None:
    logs = sub.add_parser("logs", help="a run's step logs")
    logs.add_argument("run", metavar="RUN", help="a run id, its first characters, or latest")
    logs.add_argument("job", nargs="?", metavar="JOB[/STEP]", help="one job, or one step of it (id or number)")
    logs.add_argument("-f", "--follow", action="store_true", help="follow a live run until it ends")
    _common(logs, run_flags=False)


def _rerun_arguments(sub: Any) -> None:
    rerun = sub.add_parser("rerun", help="run a past run's model again with the same pipeline (a new run)")
    rerun.add_argument("run", metavar="RUN", help="a run id, its first characters, or latest")
    rerun.add_argument("--json", action="store_true", help="print result.json on stdout")
    _common(rerun)


def _serve_arguments(sub: Any) -> None:
    serve = sub.add_parser("serve", help="the read-only dashboard")
    serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8737)")
    _common(serve, run_flags=False)


def _tvmc_arguments(sub: Any) -> None:
    # `benchd tvmc ...` is handed to tvmc's own parser before benchd parses anything (see main); this entry
    # lists it in --help and catches `benchd --log-level LEVEL tvmc ...`.
    tvmc = sub.add_parser("tvmc", help="tvmc-compatible front end (compile, run)", add_help=False)
    tvmc.add_argument("tvmc_args", nargs=argparse.REMAINDER)


def _boards_arguments(sub: Any) -> None:
    from daemon.boards.board_commands import add_arguments

    add_arguments(sub)


def _images_arguments(sub: Any) -> None:
    from daemon.executors.image_commands import add_arguments

    add_arguments(sub)


def _compile_c_arguments(sub: Any) -> None:
    compile_c = sub.add_parser("compile-c", help="the reference C backend: an int8 .tflite into an MLF archive")
    compile_c.add_argument("model", metavar="MODEL", help="path to a full-integer int8 .tflite model")
    compile_c.add_argument("--output", required=True, metavar="FILE.tar", help="the archive to write (MLF layout)")


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {k: getattr(args, k, None) for k in ("inbox", "results", "state", "executor", "pipeline")}
    return load_settings(getattr(args, "config", None), overrides)


FOREGROUND = ("run", "rerun")  # their display and last lines say what happens (warnings too): errors are logged


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["tvmc"]:  # hand the rest over untouched: tvmc has its own parser
        return _tvmc(argv[1:])
    args = build_parser().parse_args(argv)
    foreground = args.command in FOREGROUND
    # Log lines are plain text beside what a command prints; JSON lines only when --json asks for JSON, or
    # from the daemon when no terminal reads it (a service manager's journal).
    default = "error" if foreground else "info" if args.command in ("watch", "serve") else "warning"
    log.configure(args.log_level or default,
                  json=None if args.command == "watch" else bool(getattr(args, "json", False)))
    try:
        settings = _settings(args)
        return COMMANDS[args.command].run(args, settings)
    except BenchdError as exc:
        print(f"benchd: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `benchd status --json | head`: the reader has all it wants
        _quiet_stdout()
        return 141  # as a command killed by SIGPIPE


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush does not fail a second time."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file (a test's capture): nothing left to flush
        pass


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.housekeeping import bound_malloc_arenas
    from daemon.service import Daemon

    bound_malloc_arenas()  # before any thread starts: the daemon's RSS stays flat over its runs
    daemon = Daemon(settings)
    stop = threading.Event()
    interrupts = 0

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:  # a second Ctrl-C: leave now; interrupted runs are re-queued at next start
            raise SystemExit(130)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    extras = _start_extras(settings, daemon)
    try:
        daemon.start()
        stop.wait()
    finally:
        daemon.stop()
        for extra in extras:
            extra.stop()
        for s, h in previous.items():
            signal.signal(s, h)
    return 0


def _start_extras(settings: Settings, daemon: Any) -> list[Any]:
    """The webhook delivery worker and, when enabled, the dashboard: both optional modules."""
    from daemon.reporters.registry import start_background

    return list(start_background(settings, daemon.store))


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    model = Path(args.model)
    if not model.exists() and not model.is_symlink():
        raise BenchdError(f"{model} not found")
    from daemon.foreground import refuse_non_model, run_in_foreground

    refuse_non_model(model)  # before the store is opened: a wrong file leaves no record behind
    return EXIT.get(run_in_foreground(settings, model, force=args.force, json_out=args.json).status, 2)


def _cancel_arguments(sub: Any) -> None:
    cancel = sub.add_parser("cancel", help="cancel a queued or running run (it ends `cancelled`)")
    cancel.add_argument("run", metavar="RUN", help="a run id, its first characters, or latest")
    cancel.add_argument("--wait", type=float, default=20.0, metavar="S", help="wait this long for it to end")
    _common(cancel, run_flags=False)


def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 once the run ended cancelled, 1 if it ended otherwise first, 2 if there was nothing to cancel."""
    from daemon.foreground import cancel
    from daemon.store import Store
    from daemon.views.lookback import find_run

    store = Store(settings.db_path)
    return cancel(store, find_run(store, settings.results, args.run).row.id, sys.stdout, args.wait)


def cmd_rerun(args: argparse.Namespace, settings: Settings) -> int:
    """The model of a past run (its snapshot), with the pipeline file it ran, as a new forced run, shown here
    as `benchd run` shows one (store/controls.py makes the same run for the dashboard's button)."""
    from daemon.store import Store
    from daemon.store.controls import rerun
    from daemon.views.lookback import find_run

    store = Store(settings.db_path)
    run = find_run(store, settings.results, args.run)
    again = rerun(store, run.row.id)
    if not again.queued:
        raise BenchdError(f"run {run.row.id} is being run again already, as {again.run_id}: "
                          f"`benchd logs {again.run_id} -f` follows it")
    sys.stderr.write(f"rerun of {run.row.id}: {run.row.model_name} as run {again.run_id}\n")
    from daemon.foreground import run_in_foreground

    record = run_in_foreground(settings, Path(run.row.model_name), force=True, json_out=args.json, queued=again.run_id)
    return EXIT.get(record.status, 2)


def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.store import Store
    from daemon.views.lookback import format_runs, run_rows

    rows = run_rows(Store(settings.db_path), settings.results, args.model, args.limit)
    print(json.dumps(rows, indent=2) if args.json else format_runs(rows))
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.store import Store
    from daemon.views.lookback import find_run, show_json, show_text

    run = find_run(Store(settings.db_path), settings.results, args.run)
    sys.stdout.write(show_json(run) if args.json else show_text(run))
    if not args.json:
        sys.stdout.write(f"\n(folder: {run.folder})\n")
    return 0


def cmd_logs(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.store import Store
    from daemon.views.lookback import find_run, follow, write_logs

    store = Store(settings.db_path)
    run = find_run(store, settings.results, args.run)
    if args.follow:
        follow(run, store, args.job, sys.stdout)
    else:
        write_logs(run, args.job, sys.stdout)
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
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


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.store import Store
    from daemon.web.server import serve

    serve(settings, Store(settings.db_path), args.host or settings.dashboard.host,
          args.port or settings.dashboard.port)
    return 0


def _tvmc(argv: list[str]) -> int:
    from daemon.tvmc.frontend import main as tvmc_main

    return tvmc_main(argv)


def cmd_tvmc(args: argparse.Namespace, settings: Settings) -> int:
    return _tvmc(args.tvmc_args)


def cmd_boards(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.boards.board_commands import main as boards_main

    return boards_main(args, settings)


def cmd_images(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.executors.image_commands import main as images_main

    return int(images_main(args, settings))


def cmd_compile_c(args: argparse.Namespace, settings: Settings) -> int:
    """`benchd compile-c MODEL --output FILE.tar`: exit 0 with the sizes, 2 naming what the backend refused."""
    model, output = Path(args.model), Path(args.output)
    if not model.is_file():
        raise BenchdError(f"{model} not found (or not a regular file)")
    try:
        from daemon.codegen import compile_c
    except ImportError as exc:  # only the import: an ImportError inside the backend would be a bug to see
        raise BenchdError(f"the reference C backend (daemon.codegen) cannot be loaded: {exc}") from exc
    result = compile_c(model, output)
    print(f"compile-c: {model.name} -> {output}" + "".join(_sizes(result)))
    return 0


def _sizes(result: Any) -> list[str]:
    """What compile_c measured, whether it hands back a mapping or a record; absent figures are left out."""
    get = result.get if isinstance(result, dict) else (lambda key: getattr(result, key, None))
    parts = []
    for key, label in (("arena_bytes", "arena"), ("arena_lower_bound_bytes", "arena lower bound"),
                       ("constants_bytes", "constants")):
        if isinstance(get(key), int):
            parts.append(f"{label} {get(key):,} bytes")
    if isinstance(get("operators"), int):
        parts.append(f"{get('operators')} operators")
    return [": " + ", ".join(parts)] if parts else []


class Command(NamedTuple):
    """One `benchd` subcommand: how its arguments are declared, and what runs it."""

    arguments: Callable[[Any], None]  # called with the subparsers: adds the command's parser
    run: Callable[[argparse.Namespace, Settings], int]  # the exit code; BenchdError becomes 2 in main


# The seam of the command line: adding a command is one handler plus one row (ARCHITECTURE section 9).
COMMANDS: dict[str, Command] = {
    "watch": Command(_watch_arguments, cmd_watch),
    "run": Command(_run_arguments, cmd_run),
    "status": Command(_status_arguments, cmd_status),
    "runs": Command(_runs_arguments, cmd_runs),
    "show": Command(_show_arguments, cmd_show),
    "logs": Command(_logs_arguments, cmd_logs),
    "rerun": Command(_rerun_arguments, cmd_rerun),
    "cancel": Command(_cancel_arguments, cmd_cancel),
    "serve": Command(_serve_arguments, cmd_serve),
    "tvmc": Command(_tvmc_arguments, cmd_tvmc),
    "boards": Command(_boards_arguments, cmd_boards),
    "images": Command(_images_arguments, cmd_images),
    "compile-c": Command(_compile_c_arguments, cmd_compile_c),
}
