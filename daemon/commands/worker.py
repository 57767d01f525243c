"""`benchd worker` (this host in the shared queue: claims jobs, no inbox) and `benchd submit` (a model into
the shared queue from any host or script)."""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path
from typing import Any

from daemon.commands import common
from daemon.errors import ConfigError
from daemon.settings import Settings


def worker_arguments(sub: Any) -> None:
    p = sub.add_parser("worker", help="run jobs of the shared queue ([queue] url) on this host and its boards")
    common(p)


def worker(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.app import compose
    from daemon.app.signals import interrupts
    from daemon.app.worker import Worker
    from daemon.settings import host_name
    from daemon.store.queueing import open_queue

    # A connection per slot, plus the heartbeat, the reaper and the assembly of a run's result.
    queue = open_queue(settings, f"benchd-worker@{host_name(settings)}", settings.parallel_runs + 3)
    if queue is None:
        raise ConfigError("benchd worker needs the shared queue: set [queue] url in benchd.toml or BENCHD_QUEUE_URL")
    from daemon.store import Store

    compose.sweep_containers(settings)  # what a killed worker of this host left running
    compose.sweep_processes(settings)
    store = Store(settings.db_path)  # this host's outbox (webhooks, statuses of the runs it assembles)
    reporters = compose.reporters(settings, store)
    host = Worker(settings, queue, compose.actions_launcher(), compose.boards(settings),
                  compose.health_checker(settings), reporters)
    extras = compose.background(settings, store)
    stop = threading.Event()

    def on_interrupt(presses: int, how: str) -> None:
        if presses > 1:
            raise SystemExit(130)
        stop.set()

    with interrupts(on_interrupt):
        try:
            host.start()
            stop.wait()
        finally:
            host.stop()
            for extra in reversed(extras):
                extra.stop()
            queue.engine.close()
    return 0


def submit_arguments(sub: Any) -> None:
    p = sub.add_parser("submit", help="queue a model in the shared queue; any host's worker runs its jobs")
    p.add_argument("model", help="the .tflite file")
    p.add_argument("--pipeline", help="a pipeline name or file (default: the configured one)")
    p.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
    p.add_argument("--json", action="store_true", help="print the run id and job count as JSON")
    common(p, run_flags=False)


def submit(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.app.submit import submit_model
    from daemon.settings import host_name
    from daemon.store.queueing import open_queue

    queue = open_queue(settings)
    if queue is None:
        raise ConfigError("benchd submit needs the shared queue: set [queue] url in benchd.toml or BENCHD_QUEUE_URL")
    try:
        done = submit_model(settings, queue, Path(args.model), args.pipeline, f"submit@{host_name(settings)}",
                            args.priority)
    finally:
        queue.engine.close()
    if args.json:
        print(json.dumps({"run": done.run_id, "jobs": done.jobs, "model_sha256": done.model_sha256}))
    else:
        print(f"queued {done.run_id} ({done.jobs} jobs)")
    return 0
