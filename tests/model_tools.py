"""Helpers of the model tests: the tvm tier marker, data/make_samples.py, subprocesses from the repo root.

The fixtures live in models_fixture.py (loaded with `pytest_plugins`); this module is imported directly.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
HAVE_TVM = importlib.util.find_spec("tvm") is not None and importlib.util.find_spec("ai_edge_litert") is not None
# The tvm tier: real TVM and the reference interpreter; CI turns a skip here into a failure (conftest.py).
# Use both: `@pytest.mark.tvm` (for -m selection) and `@tvm_available` (or `pytestmark = [...]`).
tvm_available = pytest.mark.skipif(not HAVE_TVM, reason="needs apache-tvm and ai-edge-litert (pip install .[tvm])")


def load_make_samples() -> ModuleType:
    """data/ is not a package (ARCHITECTURE.md keeps __init__.py out of it): load the script by path."""
    spec = importlib.util.spec_from_file_location("make_samples", ROOT / "data" / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_py(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python ARGS` from the repo root in a fresh process (TVM never loads into the test process)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(  # our own interpreter, fixed arguments, no shell
        [sys.executable, *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def tvmc(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_py(["-m", "daemon.tvmc.frontend", *args], timeout=timeout)
