"""Helpers for the daemon tests (tests/app and others): a tiny local pipeline, settings, a real `benchd watch`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from daemon.settings import Settings

# inspect (host), then one step that marks each start in MARKS/<sha256> and sleeps SLEEP seconds.
PIPELINE = """\
name: quick
on:
  model_dropped: { paths: ["*.tflite"] }
env: { MARKS: "{marks}", SLEEP: "{sleep}" }
jobs:
  work:
    steps:
      - run: |
          echo started >> "$MARKS/${{ model.sha256 }}"
          if [ -f "$MARKS/pass-${{ model.sha256 }}" ]; then exit 0; fi
          sleep "${SLEEP:-0}"
"""


def make_settings(tmp_path: Path, sleep: float = 0, **extra: object) -> Settings:
    marks = tmp_path / "marks"
    marks.mkdir(exist_ok=True)
    wf = tmp_path / "quick.yml"
    wf.write_text(PIPELINE.replace("{marks}", str(marks)).replace("{sleep}", str(sleep)))
    (tmp_path / "inbox").mkdir(exist_ok=True)
    return Settings(inbox=tmp_path / "inbox", results=tmp_path / "results", state=tmp_path / "state",
                    pipeline=str(wf), stable_s=0.2, executor="local", **extra)  # type: ignore[arg-type]


def results(settings: Settings) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(settings.results.glob("*/*/result.json"))]


def starts(settings: Settings, sha256: str) -> int:
    path = settings.results.parent / "marks" / sha256
    return len(path.read_text().splitlines()) if path.exists() else 0


def env_of(settings: Settings) -> dict[str, str]:
    return {**os.environ, "BENCHD_INBOX": str(settings.inbox), "BENCHD_RESULTS": str(settings.results),
            "BENCHD_STATE": str(settings.state), "BENCHD_PIPELINE": settings.pipeline,
            "BENCHD_STABLE_S": str(settings.stable_s), "BENCHD_EXECUTOR": "local"}


def benchd(*args: str, settings: Settings, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon", *args], env=env_of(settings),
                          cwd=settings.results.parent, capture_output=True, text=True, timeout=timeout)


def start_watch(settings: Settings, stderr: object = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "daemon", "watch"], env=env_of(settings),
                            cwd=settings.results.parent, stdout=subprocess.DEVNULL, stderr=stderr)  # type: ignore[arg-type]


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 40) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(predicate, timeout: float = 30, every: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return bool(predicate())


def processes_with(marker: str) -> list[str]:
    """Command lines of live processes that mention `marker` (orphans of a killed daemon)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next((ln for ln in (proc / "status").read_text().splitlines() if ln.startswith("State:")), "")
        except OSError:
            continue
        if marker in cmdline and "zombie" not in state:
            found.append(cmdline)
    return found


def kill_orphans(tmp_path: Path) -> int:
    """SIGKILL step processes this test started that outlived their daemon (their environment names tmp_path:
    MARKS, BENCHD_WORKSPACE)."""
    marker = str(tmp_path).encode()
    killed = 0
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and proc.name != str(os.getpid()) and marker in (proc / "environ").read_bytes():
                os.kill(int(proc.name), signal.SIGKILL)
                killed += 1
        except OSError:
            continue
    return killed
