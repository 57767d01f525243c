"""data/make_samples.py parses its arguments: --help and a bad option write nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "data" / "make_samples.py"


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_help_creates_no_folder(tmp_path: Path) -> None:
    out = _run(tmp_path, "--help")
    assert out.returncode == 0 and "OUT_DIR" in out.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_bad_option_is_refused(tmp_path: Path) -> None:
    out = _run(tmp_path, "--frob")
    assert out.returncode == 2 and "unrecognized arguments: --frob" in out.stderr and list(tmp_path.iterdir()) == []


def test_the_folder_is_written(tmp_path: Path) -> None:
    out = _run(tmp_path, "mine")
    assert out.returncode == 0 and (tmp_path / "mine" / "kws_xs.tflite").is_file()
