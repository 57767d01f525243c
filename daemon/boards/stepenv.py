"""What a board action (a step process) needs from benchd's configuration, read the one sanctioned way.

The runner writes `$BENCHD_WORKSPACE/.benchd/boards.json` at the run's start: the boards it found and the
`[boards]` settings in force, as values. Steps read that file; they never rebuild settings from the
environment. Run by hand outside benchd (no such file), a board action falls back to `load_settings`.
The state folder comes from `BENCHD_STATE`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from daemon.errors import BoardError, ConfigError
from daemon.settings import BoardSettings, load_settings


def boards_file(workspace: Path) -> Path:
    return workspace / ".benchd" / "boards.json"


def read_boards_file(workspace: Path | None) -> dict[str, Any]:
    """{"settings": {...}, "boards": [...]} as the runner wrote it; empty when there is none."""
    path = boards_file(workspace) if workspace else None
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BoardError(f"{path} is unreadable ({exc}): re-run the pipeline") from exc
    return data if isinstance(data, dict) else {}


def board_settings(env: Mapping[str, str], workspace: Path | None = None) -> BoardSettings:
    listed = read_boards_file(workspace).get("settings")
    if isinstance(listed, dict):
        try:
            return BoardSettings(allow=tuple(listed["allow"]), deny=tuple(listed["deny"]),
                                 ports=tuple(listed["ports"]), quarantine_after=int(listed["quarantine_after"]),
                                 lease_s=float(listed["lease_s"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise BoardError(f"{boards_file(workspace or Path())} has no valid settings ({exc})") from exc
    try:
        return load_settings(env=env).boards
    except ConfigError as exc:
        raise BoardError(f"board settings are invalid: {exc}") from exc


def state_dir(env: Mapping[str, str], workspace: Path) -> Path:
    """$BENCHD_STATE (shared by all runs: leases and health must be); the workspace only as a fallback."""
    value = env.get("BENCHD_STATE")
    return Path(value) if value else workspace / ".benchd" / "state"


def board_dir(workspace: Path, board_id: str) -> Path:
    return workspace / "boards" / board_id
