"""benchd's command line: the one place errors become exit codes (0 success, 1 failure, 2 error)."""

from __future__ import annotations

import argparse
import sys

from daemon import __version__, log
from daemon.commands import Command, fleet, look, run, tools, watch, worker
from daemon.errors import BenchdError
from daemon.settings import Settings, load_settings


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


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {k: getattr(args, k, None) for k in ("inbox", "results", "state", "executor", "pipeline")}
    return load_settings(getattr(args, "config", None), overrides)


FOREGROUND = ("run", "rerun")  # their display and last lines say what happens (warnings too): errors are logged


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["tvmc"]:  # hand the rest over untouched: tvmc has its own parser
        return tools.tvmc_main(argv[1:])
    args = build_parser().parse_args(argv)
    foreground = args.command in FOREGROUND
    # Log lines are plain text beside what a command prints; JSON lines only when --json asks for JSON, or
    # from the daemon when no terminal reads it (a service manager's journal).
    daemons = ("watch", "worker")
    default = "error" if foreground else "info" if args.command in (*daemons, "serve") else "warning"
    log.configure(args.log_level or default,
                  json=None if args.command in daemons else bool(getattr(args, "json", False)))
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



# The seam of the command line: adding a command is one handler plus one row (ARCHITECTURE section 9).
COMMANDS: dict[str, Command] = {
    "watch": Command(watch.watch_arguments, watch.watch),
    "run": Command(run.run_arguments, run.run),
    "status": Command(look.status_arguments, look.status),
    "runs": Command(look.runs_arguments, look.runs),
    "show": Command(look.show_arguments, look.show),
    "logs": Command(look.logs_arguments, look.logs),
    "rerun": Command(run.rerun_arguments, run.rerun),
    "cancel": Command(run.cancel_arguments, run.cancel),
    "serve": Command(tools.serve_arguments, tools.serve),
    "tvmc": Command(tools.tvmc_arguments, tools.tvmc),
    "boards": Command(tools.boards_arguments, tools.boards),
    "images": Command(tools.images_arguments, tools.images),
    "compile-c": Command(tools.compile_c_arguments, tools.compile_c),
    "worker": Command(worker.worker_arguments, worker.worker),
    "submit": Command(worker.submit_arguments, worker.submit),
    "db": Command(fleet.db_arguments, fleet.db),
    "hosts": Command(fleet.hosts_arguments, fleet.hosts),
}
