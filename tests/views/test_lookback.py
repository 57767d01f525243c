"""benchd from any directory, and looking back from another one: `run` with no benchd.toml keeps its data in
the user data directory; `runs`, `show`, `logs [-f]` and `rerun` find it from elsewhere (real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKFLOW = """name: quick
jobs:
  a:
    steps:
      - uses: benchd/inspect
      - id: hello
        run: echo "hello from $BENCHD_RUN_ID"
      - id: two
        run: echo second
"""


@pytest.fixture
def lab(tmp_path: Path) -> dict[str, Path]:
    for name in ("empty", "other"):
        (tmp_path / name).mkdir()
    (tmp_path / "wf.yml").write_text(WORKFLOW)
    return {"root": tmp_path, "empty": tmp_path / "empty", "other": tmp_path / "other",
            "home": tmp_path / "share" / "benchd", "wf": tmp_path / "wf.yml"}


def _env(lab: dict[str, Path]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCHD_")}
    return {**env, "XDG_DATA_HOME": str(lab["root"] / "share")}


def benchd(lab: dict[str, Path], *args: str | Path, cwd: str = "other") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon", *map(str, args)], cwd=lab[cwd], env=_env(lab),
                          capture_output=True, text=True, timeout=120)


def _run(lab: dict[str, Path], model: Path, *extra: str | Path) -> subprocess.CompletedProcess[str]:
    return benchd(lab, "run", model, "--pipeline", lab["wf"], "--executor", "local", *extra, cwd="empty")


def test_run_anywhere_then_runs_show_logs_rerun_from_another_directory(lab: dict[str, Path],
                                                                      samples: dict[str, Path]) -> None:
    out = _run(lab, samples["kws_xs.tflite"])
    assert out.returncode == 0, out.stderr
    assert list(lab["empty"].iterdir()) == []  # nothing created where it was started
    (folder,) = (lab["home"] / "results" / "kws_xs").iterdir()
    run_id = folder.name
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(f"success: kws_xs.tflite  {folder}")
    assert "  .. a / benchd/inspect" in out.stderr  # steps by action or id, never by a cut shell line
    assert "  .. a / hello" in out.stderr and "ok a / two" in out.stderr

    status = benchd(lab, "status")
    assert "config:    none found" in status.stdout and f"results:   {lab['home'] / 'results'}" in status.stdout

    runs = benchd(lab, "runs", "--json")
    assert runs.returncode == 0 and [r["id"] for r in json.loads(runs.stdout)] == [run_id]
    assert run_id in benchd(lab, "runs").stdout

    show = benchd(lab, "show")
    assert show.returncode == 0 and show.stdout.startswith("# kws_xs.tflite: success") and str(folder) in show.stdout
    assert json.loads(benchd(lab, "show", run_id[:17], "--json").stdout)["run_id"] == run_id

    logs = benchd(lab, "logs", "latest")
    assert f"hello from {run_id}" in logs.stdout and "second" in logs.stdout
    one = benchd(lab, "logs", run_id, "a/two")
    assert one.stdout == "second\n"
    assert benchd(lab, "logs", run_id, "a/3").stdout == "second\n"
    assert "kws_xs.tflite" in benchd(lab, "logs", run_id, "a/inspect").stdout  # a step by its action's name
    missing = benchd(lab, "logs", run_id, "nope")
    assert missing.returncode == 2 and "no logs for job 'nope'" in missing.stderr

    again = benchd(lab, "rerun", run_id, "--executor", "local")
    assert again.returncode == 0, again.stderr
    assert f"rerun of {run_id}" in again.stderr and "same content" not in again.stderr  # a new run, not a duplicate
    rows = json.loads(benchd(lab, "runs", "--model", "kws_xs", "--json").stdout)
    assert len(rows) == 2 and rows[1]["id"] == run_id and rows[0]["status"] == "success"
    assert json.loads(benchd(lab, "runs", "--model", "other.tflite", "--json").stdout) == []


def test_a_file_that_is_no_model_is_refused_before_any_record(lab: dict[str, Path]) -> None:
    readme = lab["root"] / "README.md"
    readme.write_text("# not a model\n")
    out = _run(lab, readme)
    assert out.returncode == 2 and "is not a TFLite model" in out.stderr and "Traceback" not in out.stderr
    assert not lab["home"].exists()  # no store, no result folder


def test_unknown_runs_say_how_to_find_them(lab: dict[str, Path]) -> None:
    out = benchd(lab, "show")
    assert out.returncode == 2 and "no runs yet" in out.stderr and "`benchd run MODEL`" in out.stderr
    assert "`benchd runs`" in benchd(lab, "show", "20990101").stderr


def test_logs_follow_a_live_run_to_its_end(lab: dict[str, Path], samples: dict[str, Path]) -> None:
    slow = lab["root"] / "slow.yml"
    slow.write_text("jobs:\n  a:\n    steps:\n      - id: tick\n"
                    "        run: for i in 1 2 3 4; do echo tick $i; sleep 0.4; done\n")
    running = subprocess.Popen([sys.executable, "-m", "daemon", "run", str(samples["kws_xs.tflite"]), "--pipeline",
                                str(slow), "--executor", "local"], cwd=lab["empty"], env=_env(lab),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = benchd(lab, "runs", "--json")
            if rows.returncode == 0 and json.loads(rows.stdout or "[]"):
                break
            time.sleep(0.1)
        follow = benchd(lab, "logs", "latest", "-f")
        assert running.wait(timeout=30) == 0
    finally:
        running.kill() if running.poll() is None else None
    assert follow.returncode == 0
    ticks = [line for line in follow.stdout.splitlines() if line.startswith("tick")]
    assert ticks == [f"tick {i}" for i in range(1, 5)]
    assert follow.stdout.count("==> logs/a/1-tick.log <==") == 1
