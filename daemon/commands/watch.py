"""`benchd watch`: the daemon on the inbox, until Ctrl-C or SIGTERM (a second one leaves at once)."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from daemon.commands import common
from daemon.settings import Settings


def watch_arguments(sub: Any) -> None:
    watch = sub.add_parser("watch", help="the daemon: run the pipeline on every model dropped into the inbox")
    watch.add_argument("--inbox", help="folder to watch (default data/inbox)")
    common(watch)


def watch(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.app.service import Daemon, bound_malloc_arenas, freeze_start_up_heap
    from daemon.app.signals import interrupts

    bound_malloc_arenas()  # before any thread starts: the daemon's RSS stays flat over its runs
    daemon = Daemon(settings, background=True)
    stop = threading.Event()

    def on_interrupt(presses: int, how: str) -> None:
        if presses > 1:  # a second Ctrl-C: leave now; interrupted runs are re-queued at next start
            raise SystemExit(130)
        stop.set()

    with interrupts(on_interrupt):
        try:
            daemon.start()
            freeze_start_up_heap()
            stop.wait()
        finally:
            daemon.stop()
    return 0
