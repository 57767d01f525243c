"""result.json (ARCHITECTURE.md §4, schema 1) and summary.md: build, write atomically, describe."""

from __future__ import annotations

import json
import os
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = 1


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def safe_stem(name: str) -> str:
    """A directory name for results/<stem>/: the model's stem without anything a shell or path could trip on."""
    stem = name[: -len(".tflite")] if name.lower().endswith(".tflite") else name
    stem = re.sub(r"[^\w.-]", "_", stem).lstrip(".")
    return stem[:100] or "model"


def result_dir(results: Path, model_name: str, run_id: str) -> Path:
    return results / safe_stem(model_name) / run_id


def new_result(run_id: str, model: dict[str, Any], pipeline: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "run_id": run_id,
        "status": "running",
        "model": {"inputs": [], "outputs": [], "operators": [], **model},
        "pipeline": pipeline or {"name": None, "file": None, "sha256": None},
        "started_at": None,
        "finished_at": None,
        "duration_s": 0.0,
        "jobs": [],
        "metrics": {"host": {}, "boards": []},
        "errors": [],
        "warnings": [],  # not in §4's example: notes that did not fail the run (additive to schema 1)
    }


def write_json(path: Path, data: Any) -> None:
    """Write then rename, so a reader (or a crash) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")  # writers never share it
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def summary_markdown(result: dict[str, Any], step_summaries: str = "") -> str:
    model = result["model"]
    lines = [
        f"# {model.get('name')}: {result['status']}",
        "",
        f"- run: `{result['run_id']}`, pipeline: `{result['pipeline'].get('name')}`, "
        f"{result['duration_s']:.1f} s",
        f"- sha256: `{model.get('sha256')}`, {model.get('size')} bytes",
    ]
    if result.get("duplicate_of"):
        lines.append(f"- same content and pipeline as run `{result['duplicate_of']}`: not run again (use --force)")
    if result["jobs"]:
        lines += ["", "| job | status | executor | duration |", "|---|---|---|---|"]
        for job in result["jobs"]:
            duration = sum(s.get("duration_s") or 0 for s in job["steps"])
            reason = f" ({job['skip_reason']})" if job.get("skip_reason") else ""
            lines.append(f"| {job['id']} | {job['status']}{reason} | {job.get('executor') or '-'} | {duration:.1f} s |")
    host = result["metrics"].get("host") or {}
    if host:
        lines += ["", "## Host metrics", ""] + [f"- {k}: {v}" for k, v in host.items()]
    if result.get("warnings"):
        lines += ["", "## Warnings", ""] + [f"- `{w['where']}`: {w['message']}" for w in result["warnings"]]
    if result["errors"]:
        lines += ["", "## Errors", ""] + [f"- `{e['where']}`: {e['message']}" for e in result["errors"]]
    if step_summaries.strip():
        lines += ["", step_summaries.strip()]
    return "\n".join(lines) + "\n"


def write_result(directory: Path, result: dict[str, Any], step_summaries: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "summary.md").write_text(summary_markdown(result, step_summaries), encoding="utf-8")
    path = directory / "result.json"
    write_json(path, result)
    return path
