"""Looking across runs, for the dashboard: a model's runs and trend, a board's history, two runs side by side.

The store says which runs there are and in what order; each run's typed record (result.json, or
progress.json while it runs) gives the figures. Plain dicts of JSON types, like `views.runs`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from daemon.record import RunRecord, iso
from daemon.store import reads
from daemon.store.db import Store
from daemon.store.rows import RunRow
from daemon.views.runs import elapsed, folder_of, record_of

# The figures of a run, in the order the model page plots them: key, label, unit.
FIGURES = (("latency_ms", "host latency", "ms"), ("max_abs_diff", "max |diff| vs TFLite", ""),
           ("instructions", "instructions / inference (virtual C3)", ""), ("arena_bytes", "arena", "B"))


def figures(record: RunRecord | None) -> dict[str, float | int | None]:
    """One run's trend figures; the arena from the virtual core, else from the reference C backend's plan."""
    if record is None:
        return {key: None for key, _, _ in FIGURES}
    m = record.metrics
    virtual, ref = m.virtual, m.reference_c
    arena = virtual.arena_bytes if virtual and virtual.arena_bytes is not None else (ref.arena_bytes if ref else None)
    return {"latency_ms": m.host.latency_ms, "max_abs_diff": m.host.max_abs_diff,
            "instructions": virtual.instructions if virtual else None, "arena_bytes": arena}


def _run_line(row: RunRow, record: RunRecord | None, now: float) -> dict[str, Any]:
    m = record.metrics if record else None
    return {"id": row.id, "model": row.model_name, "status": row.status, "created_at": iso(row.created_at),
            "started_at": iso(row.started_at), "duration_s": elapsed(row.started_at, row.finished_at, now),
            "duplicate_of": row.duplicate_of, "error": row.error, "sha256": row.sha256, "figures": figures(record),
            "top1_agreement": m.host.top1_agreement if m else None,
            "virtual": m.virtual.to_dict() if m and m.virtual else None,
            "reference_c": m.reference_c.to_dict() if m and m.reference_c else None}


def model_history(store: Store, model_name: str, results: Path | None = None,
                  limit: int = 200) -> dict[str, Any] | None:
    """Every run of a model name (newest first) and, oldest first, the series each figure has values for.
    A duplicate drop ran nothing: it is listed, and left out of the trend."""
    rows = reads.runs_of_model(store, model_name, limit)
    if not rows:
        return None
    now = time.time()
    runs = [_run_line(row, None if row.duplicate_of else record_of(folder_of(row, results)), now) for row in rows]
    series = []
    for key, label, unit in FIGURES:
        points = [{"run": r["id"], "at": r["created_at"], "value": r["figures"][key]}
                  for r in reversed(runs) if r["figures"][key] is not None]
        if points:
            series.append({"key": key, "label": label, "unit": unit, "points": points})
    return {"model": model_name, "runs": runs, "series": series}


def board_history(store: Store, board_id: str, results: Path | None = None,
                  runs: int = 200) -> dict[str, Any] | None:
    """A board's flashes and results across the last `runs` finished runs, its last good run, its health."""
    flashes: list[dict[str, Any]] = []
    for run in reads.finished_runs(store, runs, originals_only=True):
        record = record_of(folder_of(run, results))
        for board in record.metrics.boards if record else ():
            if str(board.id) == board_id:
                flashes.append({**board.to_dict(), "run_id": run.id, "model": run.model_name,
                                "run_status": run.status, "finished_at": iso(run.finished_at)})
    health, events, seen = _health(store, board_id)
    if not flashes and health is None and seen is None:
        return None
    good = next((f for f in flashes if f["run_status"] == "success" and f.get("status") in (None, "ok", "success")
                 and not f.get("error")), None)
    return {"id": board_id, "flashes": flashes, "last_good": good, "health": health, "events": events, "seen": seen}


def _health(store: Store, board_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]], dict[str, Any] | None]:
    """What boards/health.py keeps in the same SQLite file, with times as ISO text."""
    health, events, seen = reads.board_records(store, board_id)
    for e in events:
        e["ok"], e["at"] = bool(e["ok"]), iso(e["at"])
    if seen is not None:
        seen = {**seen, "present": bool(seen["present"]), "first_seen": iso(seen["first_seen"]),
                "last_seen": iso(seen["last_seen"])}
    return health, events, seen


# -- two runs side by side --------------------------------------------------------------------------
def _flat(record: RunRecord) -> dict[str, Any]:
    """Numeric figures as `section.name`: host, reference_c, virtual (lists and text left out)."""
    m = record.metrics
    out: dict[str, Any] = {"duration_s": record.duration_s}
    for section, block in (("host", m.host), ("reference_c", m.reference_c), ("virtual", m.virtual)):
        for key, value in (block.to_dict() if block is not None else {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[f"{section}.{key}"] = value
    out["boards"] = len(m.boards)
    return out


def _outputs(record: RunRecord) -> dict[str, Any]:
    """Every int8 output the run recorded, by where it came from: virtual[i], board <id>[i]."""
    out: dict[str, Any] = {}
    virtual = record.metrics.virtual
    for i, vector in enumerate((virtual.outputs or ()) if virtual else ()):
        out[f"virtual[{i}]"] = vector
    for board in record.metrics.boards:
        for i, vector in enumerate(board.outputs or ()):
            out[f"board {board.id}[{i}]"] = vector
    return out


def _union(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return list(a) + [k for k in b if k not in a]


def compare(store: Store, a: str, b: str, results: Path | None = None) -> dict[str, Any] | None:
    """Run `b` against run `a`: figure deltas (b - a), the outputs that differ, the jobs' statuses."""
    row_a, row_b = store.get_run(a), store.get_run(b)
    if row_a is None or row_b is None:
        return None
    now = time.time()
    ra, rb = record_of(folder_of(row_a, results)), record_of(folder_of(row_b, results))
    fa, fb = _flat(ra) if ra else {}, _flat(rb) if rb else {}
    metrics = []
    for key in _union(fa, fb):
        x, y = fa.get(key), fb.get(key)
        delta = round(y - x, 6) if x is not None and y is not None else None
        pct = round(100 * delta / x, 2) if delta is not None and x else None
        metrics.append({"figure": key, "a": x, "b": y, "delta": delta, "pct": pct})
    oa, ob = _outputs(ra) if ra else {}, _outputs(rb) if rb else {}
    outputs = [{"where": k, "a": oa.get(k), "b": ob.get(k)} for k in _union(oa, ob) if oa.get(k) != ob.get(k)]
    ja = {j.id: j.status for j in ra.jobs} if ra else {}
    jb = {j.id: j.status for j in rb.jobs} if rb else {}
    return {"a": _run_line(row_a, ra, now), "b": _run_line(row_b, rb, now), "metrics": metrics, "outputs": outputs,
            "outputs_same": sum(1 for k in oa if k in ob and oa[k] == ob[k]),
            "jobs": [{"id": k, "a": ja.get(k), "b": jb.get(k)} for k in _union(ja, jb)]}
