"""Several `benchd worker` processes on one PostgreSQL, as a lab runs them: each with its own benchd.toml,
state and results folders, host labels and simulated boards. For the queue's end-to-end tests and bench."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon.store import pgschema
from daemon.store.postgres import Engine
from daemon.store.queue import Queue

ROOT = Path(__file__).resolve().parents[1]

# Quick leases so a lost host is noticed in seconds (the defaults are 30 s / 5 s / 5 s).
TTL_S, HEARTBEAT_S, REAPER_S = 3.0, 0.5, 0.5

PIPELINE = """\
name: fleet
on: {model_dropped: {paths: ["*.tflite"]}}
env: {LEDGER: "@LEDGER@"}  # every step appends what it ran: a job run twice shows twice
jobs:
  build:
    runs-on: host
    steps:
      - id: b
        run: |
          echo "building ${{ model.name }}"
          case "${{ model.name }}" in slow*) sleep 6 ;; esac
          echo "built=${{ model.sha256 }}" >> "$BENCHD_OUTPUT"
          mkdir -p artifacts && echo "${{ model.name }}" > artifacts/built.txt
          echo "$BENCHD_RUN_ID build" >> "$LEDGER"
    outputs: {built: "${{ steps.b.outputs.built }}"}
  flash:
    needs: build
    runs-on: [board:esp32c3, sensor=mic]
    strategy: {matrix: {board: "${{ boards.esp32c3 }}"}}
    steps:
      - run: |
          test -f artifacts/built.txt
          test "${{ needs.build.outputs.built }}" = "${{ model.sha256 }}"
          case "${{ model.name }}" in slowboard*) sleep 6 ;; *) sleep 0.5 ;; esac
          echo "$BENCHD_RUN_ID flash ${{ matrix.board }}" >> "$LEDGER"
"""


@dataclass
class WorkerProcess:
    name: str
    folder: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """kill -9, as a power cut or an OOM kill would."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return int(self.proc.returncode)

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Fleet:
    url: str
    root: Path
    ledger: Path
    pipeline: Path
    workers: dict[str, WorkerProcess] = field(default_factory=dict)

    @classmethod
    def make(cls, url: str, root: Path) -> Fleet:
        root.mkdir(parents=True, exist_ok=True)
        ledger = root / "ledger.txt"
        ledger.touch()
        pipeline = root / "fleet.yml"
        pipeline.write_text(PIPELINE.replace("@LEDGER@", str(ledger)))
        engine = Engine(url)
        try:
            pgschema.migrate(engine)
        finally:
            engine.close()
        return cls(url, root, ledger, pipeline)

    def queue(self) -> Queue:
        return Queue(Engine(self.url))

    def start(self, name: str, labels: Sequence[str] = (), ports: Sequence[str] = (),
              board_labels: Sequence[str] = (), url: str | None = None, max_attempts: int = 2,
              parallel: int = 2) -> WorkerProcess:
        folder = self.root / name
        folder.mkdir(exist_ok=True)
        config = folder / "benchd.toml"
        config.write_text(
            f'pipeline = "{self.pipeline}"\nexecutor = "local"\nparallel_runs = {parallel}\n'
            f'[queue]\nurl = "{url or self.url}"\nlease_ttl_s = {TTL_S}\nheartbeat_s = {HEARTBEAT_S}\n'
            f'reaper_s = {REAPER_S}\nmax_attempts = {max_attempts}\npoll_s = 1.0\n'
            f'[host]\nname = "{name}"\nlabels = {json.dumps(list(labels))}\n'
            f'[boards]\nports = {json.dumps(list(ports))}\nlabels = {json.dumps(list(board_labels))}\n')
        return self.restart(name)

    def restart(self, name: str) -> WorkerProcess:
        """(Re)start the worker of `name` with its benchd.toml, as a lab restarts a host's service."""
        folder = self.root / name
        log = folder / "worker.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BENCHD_")}  # benchd.toml says it all
        with log.open("ab") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen([sys.executable, "-m", "daemon", "worker", "--config", str(folder / "benchd.toml")],
                                    cwd=folder, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        worker = WorkerProcess(name, folder, proc, log)
        self.workers[name] = worker
        return worker

    def submit(self, model: Path, name: str | None = None, max_attempts: int = 2) -> str:
        if name is not None:  # the pipeline reads the model's name (slow*: a long step)
            renamed = self.root / "models" / name
            renamed.parent.mkdir(exist_ok=True)
            renamed.write_bytes(model.read_bytes())
            model = renamed
        out = run_benchd(["submit", str(model), "--pipeline", str(self.pipeline), "--json"], self.url,
                         {"BENCHD_QUEUE_MAX_ATTEMPTS": str(max_attempts)})
        return str(json.loads(out)["run"])

    def wait_runs_done(self, run_ids: Sequence[str], timeout_s: float) -> dict[str, dict[str, Any]]:
        queue = self.queue()
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                runs = {r: queue.run(r) or {} for r in run_ids}
                if all(r.get("state") == "done" for r in runs.values()):
                    return runs
                if time.monotonic() > deadline:
                    states = {r: (v.get("state"), v.get("status")) for r, v in runs.items()}
                    raise AssertionError(f"runs not done in {timeout_s} s: {states}\n{self.logs()}")
                time.sleep(0.2)
        finally:
            queue.engine.close()

    def wait_leased(self, job_name: str | None, host: str | None = None, timeout_s: float = 30,
                    run_id: str | None = None, attempt: int | None = None) -> dict[str, Any]:
        """The first lease of a run's job (any job of a run when `job_name` is None) matching the filters."""
        queue = self.queue()
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                with queue.engine.transaction() as cur:
                    cur.execute("""SELECT * FROM jobs WHERE state = 'leased' AND run_id IS NOT NULL
                                     AND (%(name)s::text IS NULL OR name = %(name)s)
                                     AND (%(host)s::text IS NULL OR host = %(host)s)
                                     AND (%(run)s::text IS NULL OR run_id = %(run)s)
                                     AND (%(attempt)s::int IS NULL OR attempt = %(attempt)s)
                                   ORDER BY id LIMIT 1""",
                                {"name": job_name, "host": host, "run": run_id, "attempt": attempt})
                    row = cur.fetchone()
                if row is not None:
                    return dict(row)
                time.sleep(0.05)
            raise AssertionError(f"no lease of {job_name or 'any job'} on {host or 'any host'} (run {run_id}, "
                                 f"attempt {attempt}) in {timeout_s} s\n{self.logs()}")
        finally:
            queue.engine.close()

    def ledger_lines(self) -> list[str]:
        return self.ledger.read_text().splitlines()

    def logs(self) -> str:
        return "\n".join(f"--- {w.name}\n" + "\n".join(w.text().splitlines()[-25:]) for w in self.workers.values())

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()


def run_benchd(args: Sequence[str], url: str, extra: dict[str, str] | None = None) -> str:
    env = {**os.environ, "BENCHD_QUEUE_URL": url, **(extra or {})}
    done = subprocess.run([sys.executable, "-m", "daemon", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"benchd {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout
