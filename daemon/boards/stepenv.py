"""What a board action (a step process) needs from benchd's configuration, read the one sanctioned way.

Step processes do not get a Settings object handed over; they rebuild the `[boards]` section through
`load_settings` from the environment the runner passes on (`BENCHD_BOARDS_*`, `BENCHD_CONFIG`), so the
precedence rules stay those of settings.py. The state folder comes from `BENCHD_STATE`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from daemon.errors import BoardError, ConfigError
from daemon.settings import BoardSettings, load_settings


def board_settings(env: Mapping[str, str]) -> BoardSettings:
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
