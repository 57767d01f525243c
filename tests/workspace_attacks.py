"""Hostile steps for the containment tests (issue 12, item 1): a step plants links where the daemon reads or
writes, pointing at host files outside the workspace; the daemon, root on a bench, must neither read them
into the results nor write through them. Shared by tests/app (local executor) and tests/executors (containers)."""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from daemon.pipeline.loader import load_workflow
from daemon.pipeline.request import RunRequest
from daemon.pipeline.runner import Runner
from daemon.record import Journal, RunFinished
from daemon.reporters.files import FilesReporter
from daemon.settings import Settings

SECRET = "TOP-SECRET-HOST-FILE"
UNTOUCHED = "victim, untouched\n"

# Job `plant`, step 1 plants links in place of its own files, in artifacts/, and at the names the daemon
# used to give the next step's files (`plant-2-b.*`); step 2 is the step whose files those were.
PLANT_FILES = """
      - id: a
        run: |
          set +e
          ln -sf "$SECRET" "$BENCHD_SUMMARY"
          ln -f "$SECRET" "$BENCHD_OUTPUT" || ln -sf "$SECRET" "$BENCHD_OUTPUT"
          ln -sf "$SECRET" "$BENCHD_METRICS"
          mkdir -p artifacts/sub
          echo fine > artifacts/ok.txt
          ln -s "$SECRET" artifacts/leak
          ln -s "$SECRET_DIR" artifacts/sub/dir
          mkfifo artifacts/pipe
          for kind in sh output metrics summary; do ln -sf "$VICTIM" ".benchd/plant-2-b.$kind"; done
          ls -la .benchd
          exit 0
      - id: b
        run: echo "step b ran" && echo "b=ran" >> "$BENCHD_OUTPUT"
"""

# Job `swap` replaces whole folders: .benchd/ and artifacts/ become links to a host folder, then a step
# runs after it (the daemon makes that step's files) and the run copies artifacts.
SWAP_FOLDERS = """
      - id: a
        run: |
          set +e
          mkdir -p artifacts && echo x > artifacts/x.txt
          mv artifacts artifacts-gone && ln -s "$SECRET_DIR" artifacts
          mv .benchd .benchd-gone && ln -s "$SECRET_DIR" .benchd
          exit 0
      - id: b
        run: echo "b=ran" >> "$BENCHD_OUTPUT"
"""


@dataclass
class Host:
    """Host files outside the workspace that a step points its links at."""

    secret: Path
    secret_dir: Path
    victim: Path

    @classmethod
    def make(cls, root: Path) -> Host:
        secret_dir = root / "host-secrets"
        secret_dir.mkdir()
        secret = secret_dir / "secret.txt"
        secret.write_text(SECRET + "\n")
        (secret_dir / "other.txt").write_text(SECRET + " too\n")
        victim = root / "victim.txt"
        victim.write_text(UNTOUCHED)
        return cls(secret, secret_dir, victim)

    def snapshot(self) -> dict[str, tuple[int, bytes]]:
        return {p.name: (p.lstat().st_mode, p.read_bytes() if stat.S_ISREG(p.lstat().st_mode) else b"")
                for p in sorted(self.secret_dir.iterdir())}

    def env_block(self) -> str:
        return (f"env:\n  SECRET: {json.dumps(str(self.secret))}\n  SECRET_DIR: {json.dumps(str(self.secret_dir))}\n"
                f"  VICTIM: {json.dumps(str(self.victim))}\n")


def workflow(host: Host, job: str, steps: str, container: str | None = None, keys: str = "") -> str:
    """One job; `keys` are more job-level lines (indented by four spaces)."""
    where = f"    container: {container}\n" if container else ""
    return f"{host.env_block()}jobs:\n  {job}:\n{where}{keys}    steps:{steps}"


def run(tmp_path: Path, text: str, executor: str = "local") -> tuple[dict, Path]:
    wf_file = tmp_path / "wf.yml"
    wf_file.write_text(text)
    settings = Settings(state=tmp_path / "state", results=tmp_path / "results", executor=executor)
    model = tmp_path / "models" / "m.tflite"
    model.parent.mkdir(exist_ok=True)
    model.write_bytes(b"model bytes")
    out = tmp_path / "results" / "run-1"
    req = RunRequest("run-1", model, "m.tflite", "ab" * 32, 11, load_workflow(wf_file), out)
    journal = Journal([FilesReporter(out)])
    status = Runner(settings).execute(req, journal)
    journal.emit(RunFinished(status, time.time(), 0.0))
    return json.loads((out / "result.json").read_text()), out


def leaked(results: Path) -> list[str]:
    """Regular files under the results that carry the secret (links are not followed: they are links)."""
    found = []
    for top, _dirs, files in os.walk(results):
        for name in files:
            path = Path(top) / name
            if stat.S_ISREG(path.lstat().st_mode) and SECRET.encode() in path.read_bytes():
                found.append(str(path))
    return found


def assert_contained(host: Host, before: dict[str, tuple[int, bytes]], result: dict, out: Path) -> None:
    assert host.victim.read_text() == UNTOUCHED  # nothing written through a planted link
    assert host.snapshot() == before  # nothing written into (or removed from) the host folder
    assert leaked(out) == []  # nothing read into the results
    assert SECRET not in json.dumps(result)


def warnings(result: dict) -> str:
    return "\n".join(f"{w['where']}: {w['message']}" for w in result.get("warnings", []))
