"""`benchd serve`, `boards`, `images`, `tvmc` and `compile-c`: the commands beside the runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from daemon.commands import common
from daemon.errors import BenchdError
from daemon.settings import Settings


def serve_arguments(sub: Any) -> None:
    serve = sub.add_parser("serve", help="the dashboard (read-only but for re-run, cancel and POST /runs)")
    serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8737)")
    common(serve, run_flags=False)


def serve(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.app.compose import submitter
    from daemon.store import Store
    from daemon.store.queueing import open_queue
    from daemon.web.server import serve

    queue = open_queue(settings, name="benchd serve")  # with [queue] url: the fleet page and POST /runs
    try:
        serve(settings, Store(settings.db_path), args.host or settings.dashboard.host,
              args.port or settings.dashboard.port, queue=queue, submit=submitter(settings, queue))
    finally:
        if queue is not None:
            queue.engine.close()
    return 0


def tvmc_main(argv: list[str]) -> int:
    from daemon.tvmc.frontend import main as tvmc_main

    return tvmc_main(argv)


def tvmc_arguments(sub: Any) -> None:
    # `benchd tvmc ...` is handed to tvmc's own parser before benchd parses anything (see main); this entry
    # lists it in --help and catches `benchd --log-level LEVEL tvmc ...`.
    tvmc = sub.add_parser("tvmc", help="tvmc-compatible front end (compile, run)", add_help=False)
    tvmc.add_argument("tvmc_args", nargs=argparse.REMAINDER)


def tvmc(args: argparse.Namespace, settings: Settings) -> int:
    return tvmc_main(args.tvmc_args)


def boards_arguments(sub: Any) -> None:
    from daemon.boards.board_commands import add_arguments
    from daemon.commands.fleet import board_verbs_arguments

    board_verbs_arguments(add_arguments(sub))


def boards(args: argparse.Namespace, settings: Settings) -> int:
    """This machine's boards, or with `[queue] url` the fleet's (listing, maintenance, retire, release)."""
    from daemon.commands import fleet

    if fleet.serves_boards(args, settings):
        return fleet.boards(args, settings)
    from daemon.boards.board_commands import main as boards_main

    return boards_main(args, settings)


def images_arguments(sub: Any) -> None:
    from daemon.executors.image_commands import add_arguments

    add_arguments(sub)


def images(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.executors.image_commands import main as images_main

    return int(images_main(args, settings))


def compile_c_arguments(sub: Any) -> None:
    compile_c = sub.add_parser("compile-c", help="the reference C backend: an int8 .tflite into an MLF archive")
    compile_c.add_argument("model", metavar="MODEL", help="path to a full-integer int8 .tflite model")
    compile_c.add_argument("--output", required=True, metavar="FILE.tar", help="the archive to write (MLF layout)")


def compile_c(args: argparse.Namespace, settings: Settings) -> int:
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
