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
    p.add_argument("--config", help="benchd.toml (default: $BENCHD_CONFIG or ./benchd.toml)")
    p.add_argument("--results", help="results folder (default data/results)")
    p.add_argument("--state", help="state folder: SQLite store, snapshots (default data/state)")
    if run_flags:
        p.add_argument("--executor", choices=["auto", "docker", "local"], help="where container jobs run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchd", description=__doc__)
    parser.add_argument("--version", action="version", version=f"benchd {__version__}")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        help="default: info (warning for `benchd run`, whose progress display says the rest)")
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
    run.add_argument("--pipeline", help="pipeline name in pipelines/ or a workflow file")
    run.add_argument("--force", action="store_true", help="run even if this content already has a result")
    run.add_argument("--json", action="store_true", help="print result.json on stdout")
    _common(run)


def _status_arguments(sub: Any) -> None:
    status = sub.add_parser("status", help="recent runs")
    status.add_argument("--json", action="store_true")
    status.add_argument("--limit", type=int, default=20)
    _common(status, run_flags=False)


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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["tvmc"]:  # hand the rest over untouched: tvmc has its own parser
        return _tvmc(argv[1:])
    args = build_parser().parse_args(argv)
    log.configure(args.log_level or ("warning" if args.command == "run" else "info"))
    try:
        settings = _settings(args)
        return COMMANDS[args.command].run(args, settings)
    except BenchdError as exc:
        print(f"benchd: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.service import Daemon

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
    from daemon.intake.intake import Queued
    from daemon.record import RunRecord
    from daemon.service import Daemon

    model = Path(args.model)
    if not model.exists() and not model.is_symlink():
        raise BenchdError(f"{model} not found")
    progress = _Progress(sys.stderr)
    daemon = Daemon(settings, progress=progress)  # the same intake and runner as `benchd watch`, in the foreground
    store = daemon.store
    decision = daemon.drop(model, force=args.force, move=False)
    if decision is None:
        raise BenchdError(f"{model} disappeared before benchd could read it")
    if isinstance(decision, Queued):
        row = store.claim_run(decision.run_id)
        if row is None:
            raise BenchdError(f"run {decision.run_id} was taken by a running daemon; see `benchd status`")
        record = daemon.execute(row)
        from daemon.reporters.registry import flush_deliveries

        pending = flush_deliveries(settings, store, timeout_s=15)
        if pending:
            sys.stderr.write(f"  {pending} webhook delivery(ies) pending: `benchd watch` will retry them\n")
    else:
        done = store.get_run(decision.run_id)
        if done is None or not done.result_dir:
            raise BenchdError(f"run {decision.run_id} has no result yet; see `benchd status`")
        record = RunRecord.from_json((Path(done.result_dir) / "result.json").read_text(encoding="utf-8"))
    progress.done(record, decision)
    if args.json:
        sys.stdout.write(record.to_json())
    return EXIT.get(record.status, 2)


class _Progress:
    """A live, line-based progress display for `benchd run` (stderr, so --json stays clean): a journal
    subscriber like the reporters."""

    name = "progress"
    MARK = {"success": "ok", "failure": "FAILED", "error": "ERROR", "skipped": "skipped"}

    def __init__(self, out: Any) -> None:
        self.out = out

    def on_event(self, event: Any, record: Any) -> None:
        from daemon.record import JobStarted, StepFinished, StepStarted

        if isinstance(event, StepStarted):
            self.out.write(f"  .. {event.job_id} / {event.step.name or event.step.id}\n")
        elif isinstance(event, StepFinished) and event.step.status not in ("skipped", "cancelled"):
            step = event.step
            error = f" - {step.error}" if step.error else ""
            self.out.write(f"  {self.MARK.get(step.status, step.status)} {event.job_id} / {step.id} "
                           f"({step.duration_s:.1f} s){error}\n")
        elif isinstance(event, JobStarted) and event.job.status == "skipped":
            self.out.write(f"  -- {event.job.id} skipped: {event.job.skip_reason}\n")
        else:
            return
        self.out.flush()

    def done(self, record: Any, decision: Any) -> None:
        if decision.__class__.__name__ == "Duplicate":
            self.out.write(f"same content and pipeline as run {decision.of_run} (use --force to run again)\n")
        for error in record.errors:
            self.out.write(f"  {error.where}: {error.message}\n")
        self.out.write(f"{record.status}: {record.model.name} (run {record.run_id})\n")
        self.out.flush()


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.reporters import views
    from daemon.store import Store

    store = Store(settings.db_path)
    rows = views.recent_runs(store, args.limit)
    print(json.dumps(rows, indent=2) if args.json else views.format_status_table(rows))
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.reporters.dashboard.server import serve
    from daemon.store import Store

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
    "serve": Command(_serve_arguments, cmd_serve),
    "tvmc": Command(_tvmc_arguments, cmd_tvmc),
    "boards": Command(_boards_arguments, cmd_boards),
    "images": Command(_images_arguments, cmd_images),
    "compile-c": Command(_compile_c_arguments, cmd_compile_c),
}
