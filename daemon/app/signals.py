"""SIGINT and SIGTERM for the processes that run runs: one handler installed for a block, restored after.

`benchd watch` stops on the first and leaves at once on the second; `benchd run` cancels its run on the
first and forces on the second. Both count presses here, so the behaviour is written once.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def signal_label(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


@contextmanager
def interrupts(handler: Callable[[int, str], None]) -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM call handler(presses so far, "Ctrl-C" | "SIGTERM")."""
    presses = 0

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal presses
        presses += 1
        handler(presses, signal_label(signum))

    previous = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
