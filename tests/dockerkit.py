"""Helpers of the docker tier: a workspace laid out as the runner lays it out, a private second engine."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from daemon.errors import ExecutorError
from daemon.executors.base import JobSpec, StepCommand, StepOutcome
from daemon.executors.container import connect
from daemon.executors.images import BASE_REF


@dataclass
class Bench:
    """A workspace and a model, laid out as the runner lays them out (.benchd/ for step files)."""

    workspace: Path
    model: Path

    def spec(self, image: str = BASE_REF, **kw: object) -> JobSpec:
        return JobSpec("run1", "job1", self.workspace, self.model, image=image, **kw)  # type: ignore[arg-type]

    def script(self, name: str, text: str, env: dict[str, str] | None = None,
               timeout_s: float = 60.0) -> StepCommand:
        path = self.workspace / ".benchd" / f"{name}.sh"
        path.write_text(text, encoding="utf-8")
        return self.command(("bash", "-e", str(path)), name, env, timeout_s)

    def command(self, argv: tuple[str, ...], name: str, env: dict[str, str] | None = None,
                timeout_s: float = 60.0) -> StepCommand:
        base = {"BENCHD_RUN_ID": "run1", "BENCHD_MODEL": str(self.model), "BENCHD_WORKSPACE": str(self.workspace),
                "BENCHD_OUTPUT": str(self.workspace / ".benchd" / f"{name}.output")}
        return StepCommand(argv, {**base, **(env or {})}, self.workspace, self.workspace / "logs" / f"{name}.log",
                           timeout_s)

    def output(self, name: str) -> str:
        path = self.workspace / ".benchd" / f"{name}.output"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def log(self, name: str) -> str:
        return (self.workspace / "logs" / f"{name}.log").read_text(encoding="utf-8", errors="replace")


def run_steps(ex: object, spec: JobSpec, *commands: StepCommand) -> list[StepOutcome]:
    session = ex.open_job(spec)  # type: ignore[attr-defined]
    try:
        return [session.run_step(c) for c in commands]
    finally:
        session.close()


class SpareEngine:
    """A second dockerd on its own socket and data root, so a test may stop it without touching the
    engine everyone else uses. Needs root and dockerd (CI has both)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"unix://{root}/d.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        # Its own bridge: `--bridge none` would make dockerd delete the main engine's docker0.
        self.bridge = f"bd{abs(hash(root)) % 10**8}"

    def make_bridge(self) -> None:
        for argv in (["ip", "link", "add", "name", self.bridge, "type", "bridge"],
                     ["ip", "addr", "add", "10.213.77.1/24", "dev", self.bridge],
                     ["ip", "link", "set", self.bridge, "up"]):
            subprocess.run(argv, check=True, capture_output=True)

    def remove_bridge(self) -> None:
        subprocess.run(["ip", "link", "delete", self.bridge], check=False, capture_output=True)

    def start(self) -> None:
        log = (self.root / "dockerd.log").open("ab")
        self.proc = subprocess.Popen(
            ["dockerd", "--host", self.url, "--data-root", str(self.root / "data"),
             "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "d.pid"),
             "--bridge", self.bridge, "--iptables=false", "--ip-masq=false"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                connect(self.url, timeout=2).close()
                return
            except ExecutorError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.3)
        self.stop()
        tail = (self.root / "dockerd.log").read_text(errors="replace")[-800:]
        pytest.skip(f"a second dockerd did not come up at {self.url}: {tail}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
