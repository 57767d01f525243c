"""The layers of ARCHITECTURE.md section 1 as import-linter contracts ([tool.importlinter] in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    # Beside the interpreter: the project's own .venv/bin (import-linter is a dev dependency, so a missing
    # one fails here instead of skipping).
    lint_imports = Path(sys.executable).with_name("lint-imports")
    assert lint_imports.is_file(), f"{lint_imports} is missing: pip install -e '.[dev]'"
    proc = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"a layer contract is broken:\n{proc.stdout}\n{proc.stderr}"
