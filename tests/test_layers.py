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


def test_no_sql_outside_the_store() -> None:
    """Every table and query lives in daemon/store/ (schema.py, named queries): a module elsewhere that holds
    SQL, opens SQLite or runs a raw query fails here (issue 18)."""
    import re

    root = ROOT / "daemon"
    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b.*\b(FROM|INTO|SET)\b|\bCREATE TABLE\b|\bimport sqlite3\b"
                     r"|\.query\(|\bdb\.execute\(")
    found = [f"{path.relative_to(root)}:{n}: {line.strip()}" for path in sorted(root.rglob("*.py"))
             if path.relative_to(root).parts[0] != "store"
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if sql.search(line)]
    assert found == []
