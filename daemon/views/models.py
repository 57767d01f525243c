"""The dashboard's index: one row per model name with its latest figures and a short series to draw.

The status is the newest run's (queued, running, or how it ended); the figures are the newest run's that
measured something (a duplicate drop or a run still going has none of its own), so a model being re-run
keeps showing what it last achieved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon.record import BoardResult, RunRecord, iso
from daemon.store import reads
from daemon.store.db import Store
from daemon.views.runs import folder_of, record_of

SPARK_RUNS = 12  # the sparkline's runs: enough for a trend, few enough to read at 100 px
SPARK_FIGURES = ("instructions", "max_abs_diff")  # the first one a model has values for is drawn
FIGURE_KEYS = ("top1_agreement", "max_abs_diff", "instructions", "arena_bytes", "rom_bytes", "boards_ok",
               "boards_total")


def board_ok(board: BoardResult) -> bool:
    """The board ran the model to the end: no error, and a status (when it gives one) that says so."""
    return not board.extra.get("error") and board.extra.get("ok") is not False and board.status in (None, "ok",
                                                                                                     "success")


def latest_figures(record: RunRecord) -> dict[str, Any]:
    """The index's columns of one run: host top-1 and max diff, the virtual core's instructions, arena and
    ROM (the reference C backend's arena when the core did not run), boards that ran it right / all."""
    m = record.metrics
    virtual, ref = m.virtual, m.reference_c
    arena = virtual.arena_bytes if virtual and virtual.arena_bytes is not None else (ref.arena_bytes if ref else None)
    rom = virtual.rom_bytes if virtual and virtual.rom_bytes is not None else next(
        (b.rom_bytes for b in m.boards if b.rom_bytes is not None), None)
    return {"top1_agreement": m.host.top1_agreement, "max_abs_diff": m.host.max_abs_diff,
            "instructions": virtual.instructions if virtual else None, "arena_bytes": arena, "rom_bytes": rom,
            "boards_ok": sum(1 for b in m.boards if board_ok(b)), "boards_total": len(m.boards)}


def models(store: Store, results: Path | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The `limit` most recently run models, most recent first."""
    by_model: dict[str, list[Any]] = {}
    for row in reads.latest_runs_per_model(store, SPARK_RUNS, limit):
        by_model.setdefault(row.model_name, []).append(row)
    out = []
    for name, rows in by_model.items():
        newest = rows[0]
        measured = [(row, record) for row in rows if not row.duplicate_of
                    and (record := record_of(folder_of(row, results))) is not None and record.status != "running"]
        figures = [(row, latest_figures(record)) for row, record in measured]
        latest_row, latest = figures[0] if figures else (None, dict.fromkeys(FIGURE_KEYS))
        key = next((k for k in SPARK_FIGURES if any(f[k] is not None for _, f in figures)), None)
        spark = [{"run": row.id, "value": f[key]} for row, f in reversed(figures) if f[key] is not None] if key else []
        out.append({"model": name, "status": newest.status, "run_id": newest.id, "at": iso(newest.created_at),
                    "figures_run": latest_row.id if latest_row else None, **latest,
                    "spark": {"key": key, "points": spark}})
    return out
