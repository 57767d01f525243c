"""The shared queue's commands: `benchd db migrate`, `benchd hosts`, `benchd boards` with `[queue] url` (the
fleet's boards, `maintenance|retire|release ID`), and `runs`, `show`, `logs` read from the queue.

Board health as LAVA names it: `maintenance` and `retired` boards take no jobs (a job running on one finishes
first); `release` sets a board back to `unknown`, so it runs a health check before its next job.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from daemon.commands import common
from daemon.errors import BoardError, ConfigError
from daemon.settings import Settings, host_name

if TYPE_CHECKING:
    from daemon.store.queue import Queue

# verb -> (the health it sets, what follows for the board)
BOARD_VERBS = {
    "maintenance": ("maintenance", "it takes no jobs until `benchd boards release {id}`"),
    "retire": ("retired", "it takes no jobs again unless `benchd boards release {id}`"),
    "release": ("unknown", "it runs a health check before its next job"),
}
NEEDS_QUEUE = ("maintenance", "retire")  # release without a queue: this machine's quarantine (boards/health.py)


def needs_queue(what: str) -> ConfigError:
    return ConfigError(f"{what} needs the shared queue: set [queue] url = \"postgresql://…\" in benchd.toml "
                       "(or BENCHD_QUEUE_URL)")


@contextlib.contextmanager
def shared_queue(settings: Settings, what: str) -> Iterator[Queue]:
    """The queue, open for one command and closed after it."""
    from daemon.store.queueing import open_queue

    queue = open_queue(settings, name=f"benchd {what}")
    if queue is None:
        raise needs_queue(f"`benchd {what}`")
    try:
        yield queue
    finally:
        queue.engine.close()


# -- benchd db migrate ------------------------------------------------------------------------------------
def db_arguments(sub: Any) -> None:
    db = sub.add_parser("db", help="the shared queue's database ([queue] url)")
    verbs = db.add_subparsers(dest="db_command", required=True)
    migrate = verbs.add_parser("migrate", help="create or upgrade the queue's tables (safe to repeat)")
    common(migrate, run_flags=False)


def db(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.store import pgschema
    from daemon.store.queueing import open_engine

    engine = open_engine(settings, name="benchd db migrate")
    if engine is None:
        raise needs_queue("`benchd db migrate`")
    try:
        before, after = pgschema.migrate(engine)
    finally:
        engine.close()
    print(f"queue schema: version {before} -> {after}" if before != after else
          f"queue schema: up to date (version {after})")
    return 0


# -- benchd hosts -----------------------------------------------------------------------------------------
def hosts_arguments(sub: Any) -> None:
    hosts = sub.add_parser("hosts", help="the benches on the shared queue: labels, last seen, running jobs")
    hosts.add_argument("--json", action="store_true")
    common(hosts, run_flags=False)


def hosts(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.views import fleet

    with shared_queue(settings, "hosts") as queue:
        rows = fleet.host_rows(queue)
    print(json.dumps(rows, indent=2) if args.json else fleet.format_hosts(rows))
    return 0


# -- benchd boards, with [queue] url ----------------------------------------------------------------------
def board_verbs_arguments(verbs: Any) -> None:
    """`maintenance` and `retire` beside the subcommands of `benchd boards` (`release ID [--reason]` is there
    already: daemon/boards/board_commands.py, for this machine's quarantine too)."""
    for verb, help_text in (("maintenance", "take a board of the fleet out of service (its current job ends first)"),
                            ("retire", "retire a board of the fleet for good")):
        parser = verbs.add_parser(verb, help=help_text + " ([queue] url)")
        parser.add_argument("id")
        parser.add_argument("--reason", help="why, for the board's health log")


def serves_boards(args: argparse.Namespace, settings: Settings) -> bool:
    """Whether this `benchd boards …` is about the fleet (else about this machine's boards)."""
    command = getattr(args, "boards_command", None)
    return command in NEEDS_QUEUE or (bool(settings.queue.url) and command in (None, "release"))


def boards(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.views import fleet

    command = getattr(args, "boards_command", None)
    if command in BOARD_VERBS:
        with shared_queue(settings, f"boards {command}") as queue:
            return set_board_health(queue, command, args.id, getattr(args, "reason", None), settings)
    with shared_queue(settings, "boards") as queue:
        rows = fleet.board_rows(queue)
    print(json.dumps(rows, indent=2) if args.json else fleet.format_boards(rows))
    return 0


def set_board_health(queue: Queue, verb: str, board_id: str, reason: str | None, settings: Settings) -> int:
    health, then = BOARD_VERBS[verb]
    board = next((b for b in queue.boards() if b["id"] == board_id), None)
    if board is None:
        raise BoardError(f"the queue has no board {board_id!r}: `benchd boards` lists the fleet's boards")
    why = reason or f"`benchd boards {verb}` on {host_name(settings)}"
    if not queue.set_health(board_id, health, why):
        raise BoardError(f"board {board_id!r} left the queue meanwhile: `benchd boards` lists the fleet's boards")
    lease = f"; job {board['leased_to']} on {board['leased_by']} finishes first" \
        if board["leased_to"] is not None and verb != "release" else ""
    print(f"board {board_id}: {health} (was {board['health']}): {then.format(id=board_id)}{lease}")
    return 0


# -- benchd runs / show / logs, with [queue] url ----------------------------------------------------------
def runs(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.views import fleet_runs

    with shared_queue(settings, "runs") as queue:
        rows = fleet_runs.run_rows(queue, args.model, args.limit)
    print(json.dumps(rows, indent=2) if args.json else fleet_runs.format_runs(rows))
    return 0


def show(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.views import fleet_runs

    with shared_queue(settings, "show") as queue:
        run = fleet_runs.find_run(queue, args.run)
        text = fleet_runs.show_json(queue, run) if args.json else fleet_runs.show_text(queue, run)
    sys.stdout.write(text)
    return 0


def logs(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.views import fleet_runs

    with shared_queue(settings, "logs") as queue:
        run = fleet_runs.find_run(queue, args.run)
        if args.follow:
            fleet_runs.follow(queue, run["id"], args.job, sys.stdout)
        elif fleet_runs.write_logs(queue, run["id"], args.job, sys.stdout).source is None:
            sys.stdout.write(f"run {run['id']} has no logs (yet) in the queue\n")
    return 0
