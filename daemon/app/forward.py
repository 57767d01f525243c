"""`benchd watch` with `[queue] url`: the inbox's runs go to the shared queue instead of this host's runner.

Intake decides every drop here as without a queue (rejected and duplicate drops get their result at once,
from this host). A queued run is forwarded under its own id, from its model and pipeline snapshots, and
any host's worker runs its jobs. When the queue has its result, this host finishes the run as a local one:
result.json in its results folder (unless this host assembled it), the run's row finished, the drop filed.
A run forwarded twice (a restart before its row said so) is in the queue once.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import structlog

from daemon.app.filing import file_away
from daemon.app.submit import queue_run
from daemon.errors import BenchdError
from daemon.intake.intake import Intake
from daemon.record.layout import result_dir
from daemon.settings import Settings, host_name
from daemon.store import Store
from daemon.store.queue import Queue
from daemon.store.rows import RunRow
from daemon.store.snapshots import pipeline_snapshot

_log = structlog.get_logger("forward")
SETTLE_S = 1.0  # how often forwarded runs are looked up in the queue


class Forwarder:
    def __init__(self, settings: Settings, store: Store, intake: Intake, queue: Queue) -> None:
        self.settings, self.store, self.intake, self.queue = settings, store, intake, queue
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._settle_loop, name="benchd-forward", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def forward(self, row: RunRow) -> None:
        """A claimed local run into the shared queue (its row stays `running` until the queue has its result)."""
        snapshot = pipeline_snapshot(self.settings.state, row.pipeline_sha256)
        data = Path(row.model_path).read_bytes()
        queue_run(self.settings, self.queue, row.id, row.model_name, data, snapshot, snapshot.read_bytes(),
                  Path(row.pipeline), f"inbox@{host_name(self.settings)}")
        _log.info("run forwarded to the shared queue", run=row.id, model=row.model_name)

    def settle(self) -> int:
        """Finish the local runs whose queued twin is done; returns how many."""
        settled = 0
        for row in self.store.running_runs():
            queued = self.queue.run(row.id)
            if queued is None or queued["state"] != "done":
                continue
            out = result_dir(self.settings.results, row.model_name, row.id)
            if not (out / "result.json").is_file():  # another host assembled it: its copy kept here too
                out.mkdir(parents=True, exist_ok=True)
                (out / "result.json").write_text(json.dumps(queued["result"], indent=1) + "\n", encoding="utf-8")
            errors = (queued["result"] or {}).get("errors") or []
            self.store.finish_run(row.id, queued["status"], errors[0]["message"] if errors else None, out)
            file_away(self.settings, self.intake, self.store, row, queued["status"])
            _log.info("forwarded run done", run=row.id, status=queued["status"])
            settled += 1
        return settled

    def _settle_loop(self) -> None:
        while not self._stop.wait(SETTLE_S):
            try:
                self.settle()
            except BenchdError as exc:
                _log.warning("cannot look up forwarded runs", error=str(exc))
