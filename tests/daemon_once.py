"""One pass of a real Daemon over an inbox, for tests that drop files and read what came out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from daemon.app.service import Daemon
from daemon.settings import Settings


def run_inbox(settings: Settings, timeout: float = 120) -> list[dict[str, Any]]:
    """Start a daemon on what is in the inbox now (no watching), wait until every run ended, stop it;
    returns every result.json under the results folder, oldest folder name first."""
    daemon = Daemon(settings)
    daemon.start(watch=False)
    try:
        assert daemon.wait_idle(timeout), f"runs still going after {timeout} s"
    finally:
        daemon.stop()
        daemon.store.close()
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(Path(settings.results).glob("*/*/result.json"))]
