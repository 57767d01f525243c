"""README "Boards": the dry run on simulated boards, run line by line as it stands in the README."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from test_virt_boards import riscv_tools  # noqa: F401  (the fixture: skips, or fails with CI=true, without the tools)

pytestmark = [pytest.mark.board, pytest.mark.timeout(240), pytest.mark.usefixtures("riscv_tools")]
ROOT = Path(__file__).resolve().parents[2]


def readme_lines() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- dry-run -->\n```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no <!-- dry-run --> block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_dry_run_flashes_two_simulated_boards(tmp_path: Path) -> None:
    simulate, export, boards, run = readme_lines()
    assert simulate.endswith(" &") and export.startswith("export BENCHD_BOARDS_PORTS=")
    samples = ROOT / "data" / "samples"
    if not (samples / "kws_dw1.tflite").is_file():  # what `make samples` does
        subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "data/make_samples.py"], cwd=ROOT, check=True,
                       capture_output=True)
    config = tmp_path / "benchd.toml"  # the checkout's data/ stays as it was: state and results go here
    config.write_text(f'inbox = "{tmp_path}/inbox"\nresults = "{tmp_path}/results"\nstate = "{tmp_path}/state"\n')
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BENCHD_")}, "BENCHD_CONFIG": str(config)}
    sim = subprocess.Popen(shlex.split(simulate[:-2]), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    try:
        assert sim.stdout is not None
        ports = [sim.stdout.readline().strip() for _ in range(2)]
        assert all(p.startswith("socket://127.0.0.1:") for p in ports), ports
        name, value = export.removeprefix("export ").split("=", 1)
        env[name] = value.replace("socket://127.0.0.1:PORT1", ports[0]).replace("socket://127.0.0.1:PORT2", ports[1])
        listed = subprocess.run(shlex.split(boards), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        rows = listed.stdout.splitlines()[1:]
        assert listed.returncode == 0 and len(rows) == 2 and all(r.split()[-1] == "ok" for r in rows), listed.stdout
        out = subprocess.run(shlex.split(run), cwd=ROOT, env=env, capture_output=True, text=True, timeout=200)
    finally:
        sim.terminate()
        sim.communicate(timeout=10)
    assert out.returncode == 0, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("success: kws_dw1.tflite") and last.endswith("boards 2/2 ok"), last
    (result,) = (tmp_path / "results" / "kws_dw1").glob("*/result.json")
    boards_ = json.loads(result.read_text())["metrics"]["boards"]
    assert sorted(b["port"] for b in boards_) == sorted(ports) and all(b["bit_exact"] == 3 for b in boards_)
