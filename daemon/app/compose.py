"""The composition root: built once when the daemon starts. The only place besides the commands that knows
every package; the layers below (intake, pipeline, executors, record) get plain callables and values."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from daemon import actions
from daemon.errors import BenchdError
from daemon.pipeline.request import ActionLauncher, BoardSource
from daemon.reporters.reporter import Reporter
from daemon.settings import Settings
from daemon.store import Store

if TYPE_CHECKING:  # the queue's modules import psycopg: loaded only with [queue] url
    from daemon.app.submit import Submitted
    from daemon.store.queue import Queue
    from daemon.web.uploads import Submit


def actions_launcher() -> ActionLauncher:
    return actions.launch


def boards(settings: Settings) -> BoardSource:
    def attached() -> Sequence[Any]:
        from daemon.boards.discovery import discover  # pyserial and esptool load only for board pipelines

        return discover(settings.boards, state=settings.state)

    return attached


def health_checker(settings: Settings) -> Callable[[Any], tuple[bool | None, str]]:
    """The queue worker's check of an `unknown` board: a known-good firmware flashed, its exact result lines
    expected (daemon/boards/healthcheck.py). None: no verdict (this host cannot check, or the board is busy)."""

    def check(board: Any) -> tuple[bool | None, str]:
        from daemon.boards.healthcheck import cache_dir, check_board
        from daemon.boards.lease import LeaseBusy
        from daemon.boards.session import SessionBusy

        try:
            verdict = check_board(board, settings, cache_dir(settings))
        except (LeaseBusy, SessionBusy) as exc:
            return None, f"board {board.id} is busy: {exc}"
        if verdict.reason.startswith("cannot check"):  # a tool missing here says nothing of the board
            return None, verdict.reason
        return verdict.ok, verdict.reason

    return check


def image_digest(settings: Settings) -> Callable[[str], str | None] | None:
    if settings.executor == "local":
        return None

    def digest(ref: str) -> str | None:
        from daemon.executors.container import local_digest  # the SDK loads only where Docker may be used

        return local_digest(ref)

    return digest


def reporters(settings: Settings, store: Store) -> list[Reporter]:
    from daemon.reporters.registry import build_reporters

    return build_reporters(settings, store)


def sweep_containers(settings: Settings) -> None:
    """Containers left by a daemon that died (kill -9, power loss) are removed before anything runs."""
    if settings.executor == "local":
        return
    try:
        from daemon.executors.container import connect, remove_orphans

        client = connect(timeout=5)
    except (ImportError, BenchdError):
        return  # no engine: none of our containers can be running in it
    try:
        remove_orphans(client)
    finally:
        client.close()


def sweep_processes(settings: Settings) -> None:
    """Host step processes left by a daemon that died (and whose guard died too) are killed before anything
    runs: the ones recorded in state/processes/ (daemon.executors.reaper)."""
    from daemon.executors.reaper import reap_recorded

    killed = reap_recorded(settings.state)
    if killed:
        structlog.get_logger("daemon").warning("killed orphan step processes", pids=killed)


def submitter(settings: Settings, queue: Queue | None) -> Submit | None:
    """`POST /runs` on the dashboard: app/submit.submit_model into `queue` (None without one)."""
    if queue is None:
        return None

    def submit(model: Path, pipeline: str | None, submitted_by: str, name: str) -> Submitted:
        from daemon.app.submit import submit_model

        return submit_model(settings, queue, model, pipeline, submitted_by, name=name)

    return submit


class _Closing:
    """The dashboard's own connections to the shared queue, closed once the dashboard has stopped."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    def stop(self) -> None:
        self.queue.engine.close()


def background(settings: Settings, store: Store, env: Mapping[str, str] | None = None) -> list[Any]:
    """For `benchd watch` and `benchd worker`: the delivery worker (webhooks, GitHub statuses; it also sends what
    an earlier process left pending) and, when `[dashboard] enabled`, the dashboard, with its own connections to
    the shared queue when `[queue] url` is set (the Fleet pane, POST /runs); each started, stopped with `.stop()`
    (in reverse order)."""
    from daemon.reporters.registry import delivery_worker

    started: list[Any] = []
    try:
        worker = delivery_worker(settings, store, env)
        if worker is not None:
            started.append(worker.start())
        if settings.dashboard.enabled:
            from daemon.settings import host_name
            from daemon.store.queueing import open_queue
            from daemon.web.server import DashboardServer

            queue = open_queue(settings, f"benchd-dashboard@{host_name(settings)}")
            if queue is not None:
                started.append(_Closing(queue))  # stopped after the dashboard
            started.append(DashboardServer(settings, store, env=env, queue=queue,
                                           submit=submitter(settings, queue)).start())
    except BaseException:
        for item in reversed(started):
            item.stop()
        raise
    return started


def shared_queue(settings: Settings, store: Store, intake: Any) -> tuple[Any, Any]:
    """For `benchd watch` with `[queue] url`: the forwarder of the inbox's runs and this host's worker (neither
    started)."""
    from daemon.app.forward import Forwarder
    from daemon.app.worker import Worker
    from daemon.settings import host_name
    from daemon.store.queueing import open_queue

    queue = open_queue(settings, f"benchd-watch@{host_name(settings)}", settings.parallel_runs + 4)
    assert queue is not None
    worker = Worker(settings, queue, actions_launcher(), boards(settings), health_checker(settings),
                    reporters(settings, store))
    return Forwarder(settings, store, intake, queue), worker
