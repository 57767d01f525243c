"""The fleet as the shared queue sees it: hosts and boards, for `benchd hosts`, `benchd boards` (with
`[queue] url`) and the dashboard's `/api/fleet`.

Rows are plain dicts of JSON types (the --json form, the API and the tables share them). Ages come from the
database's clock where the queue gives them (a host's silence), else from this machine's (a board's last check).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from daemon.store.queue import Queue

HISTORY = 10  # health changes per board on the dashboard


def host_rows(queue: Queue) -> list[dict[str, Any]]:
    return [{"name": h["name"], "labels": list(h["labels"]), "executor": h["executor"], "pid": h["pid"],
             "started_at": iso_time(h["started_at"]), "last_seen": iso_time(h["last_seen"]),
             "last_seen_s": _seconds(h["silent_for"]), "running": int(h["running"])}
            for h in queue.hosts()]


def board_rows(queue: Queue) -> list[dict[str, Any]]:
    rows = []
    for b in queue.boards():
        lease = {"job_id": b["leased_to"], "host": b["leased_by"]} if b["leased_to"] is not None else None
        rows.append({"id": b["id"], "host": b["host"], "port": b["port"], "labels": list(b["labels"]),
                     "simulated": b["simulated"], "present": b["present"], "health": b["health"],
                     "health_reason": b["health_reason"], "lease": lease, "last_check": iso_time(b["last_check"]),
                     "last_seen": iso_time(b["last_seen"])})
    return rows


def health_history(queue: Queue, board_id: str, limit: int = HISTORY) -> list[dict[str, Any]]:
    """Newest first."""
    return [{"at": iso_time(e["at"]), "health": e["health"], "reason": e["reason"]}
            for e in queue.health_log(board_id, limit)]


def overview(queue: Queue) -> dict[str, Any]:
    """`GET /api/fleet`: every host, every board with its recent health changes."""
    boards = [{**b, "history": health_history(queue, b["id"])} for b in board_rows(queue)]
    return {"hosts": host_rows(queue), "boards": boards}


def format_hosts(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no hosts yet: a host joins the queue when its worker starts (benchd worker)"
    table = [("HOST", "LABELS", "LAST SEEN", "RUNNING", "EXECUTOR")]
    table += [(h["name"], ",".join(h["labels"]) or "-", ago(h["last_seen_s"]), str(h["running"]), h["executor"] or "-")
              for h in rows]
    return _columns(table)


def format_boards(rows: list[dict[str, Any]], now: datetime | None = None) -> str:
    if not rows:
        return "no boards in the queue yet: a host lists its boards when its worker starts (benchd worker)"
    now = now or datetime.now(UTC)
    table = [("BOARD", "HOST", "HEALTH", "LEASE", "LAST CHECK", "PRESENT", "LABELS", "REASON")]
    for b in rows:
        lease = f"job {b['lease']['job_id']} on {b['lease']['host']}" if b["lease"] else "-"
        checked = ago((now - datetime.fromisoformat(b["last_check"])).total_seconds()) if b["last_check"] else "never"
        table.append((b["id"], b["host"], b["health"], lease, checked, "yes" if b["present"] else "no",
                      ",".join(b["labels"]) or "-", b["health_reason"]))
    return _columns(table)


def ago(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(seconds, 0.0)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def _columns(table: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns; the last one is not padded (a long reason does not widen the others)."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    return "\n".join("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]).rstrip()
                     for row in table)


def iso_time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _seconds(value: timedelta | None) -> float | None:
    return round(value.total_seconds(), 3) if value is not None else None
