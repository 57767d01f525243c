"""A step's environment, built in this one module from the settings and the run (ARCHITECTURE §3).

Step processes get plain variables and files; they never rebuild benchd's settings from them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from daemon.settings import BoardSettings, Settings


def step_environment(settings: Settings, run_id: str, model: Path, workspace: Path, job_key: str, step_id: str,
                     files: dict[str, Path]) -> dict[str, str]:
    """The BENCHD_* variables every step sees (the workflow's own env is layered on top by the caller)."""
    return {
        "BENCHD_RUN_ID": run_id, "BENCHD_MODEL": str(model), "BENCHD_WORKSPACE": str(workspace),
        "BENCHD_STATE": str(settings.state.resolve()), "BENCHD_JOB": job_key, "BENCHD_STEP": step_id,
        "BENCHD_OUTPUT": str(files["output"]), "BENCHD_METRICS": str(files["metrics"]),
        "BENCHD_SUMMARY": str(files["summary"]),
        "BENCHD_DAEMON_PID": str(os.getpid()),  # who owns a board session a step opens (boards/session.py)
    }


def boards_document(settings: BoardSettings, boards: Sequence[Any]) -> str:
    """`.benchd/boards.json` for board steps: the boards found at the run's start and the [boards] settings."""
    return json.dumps({
        "settings": {"allow": list(settings.allow), "deny": list(settings.deny), "ports": list(settings.ports),
                     "quarantine_after": settings.quarantine_after, "lease_s": settings.lease_s},
        "boards": [b.to_dict() for b in boards],
    })


def write_boards_file(path: Path, settings: BoardSettings, boards: Sequence[Any]) -> None:
    """boards.json at `path` (tests lay a workspace out so; the runner writes it through its Workspace)."""
    path.write_text(boards_document(settings, boards), encoding="utf-8")
