"""The files reporter: the one writer of result.json (ARCHITECTURE §4), summary.md and progress.json.

It subscribes to the run's journal: progress.json is rewritten (atomically) as jobs and steps end, so
the dashboard can show a run that is still going; result.json and summary.md are written once, when
the run finishes, from the same typed RunRecord every other reporter reads.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from daemon.record import Event, JobFinished, JobStarted, RunFinished, RunRecord, StepFinished


def safe_stem(name: str) -> str:
    """A directory name for results/<stem>/: the model's stem without anything a shell or path could trip on."""
    stem = name[: -len(".tflite")] if name.lower().endswith(".tflite") else name
    stem = re.sub(r"[^\w.-]", "_", stem).lstrip(".")
    return stem[:100] or "model"


def result_dir(results: Path, model_name: str, run_id: str) -> Path:
    return results / safe_stem(model_name) / run_id


def write_text(path: Path, text: str) -> None:
    """Write then rename, so a reader (or a crash) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")  # writers never share it
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: Path, data: object) -> None:
    import json

    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


class FilesReporter:
    name = "files"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.step_summaries: list[str] = []

    def on_event(self, event: Event, record: RunRecord) -> None:
        if isinstance(event, StepFinished) and event.summary.strip():
            self.step_summaries.append(event.summary)
        if isinstance(event, JobStarted | StepFinished | JobFinished):
            write_text(self.directory / "progress.json", record.to_json())
        elif isinstance(event, RunFinished):
            self.write(record)

    def write(self, record: RunRecord) -> Path:
        write_text(self.directory / "summary.md", summary_markdown(record, "\n".join(self.step_summaries)))
        path = self.directory / "result.json"
        write_text(path, record.to_json())
        (self.directory / "progress.json").unlink(missing_ok=True)  # a finished run has no progress to show
        return path


def summary_markdown(record: RunRecord, step_summaries: str = "") -> str:
    model = record.model
    lines = [
        f"# {model.name}: {record.status}",
        "",
        f"- run: `{record.run_id}`, pipeline: `{record.pipeline.name}`, {record.duration_s:.1f} s",
        f"- sha256: `{model.sha256}`, {model.size} bytes",
    ]
    if record.duplicate_of:
        lines.append(f"- same content and pipeline as run `{record.duplicate_of}`: not run again (use --force)")
    if record.jobs:
        lines += ["", "| job | status | executor | duration |", "|---|---|---|---|"]
        for job in record.jobs:
            duration = sum(s.duration_s or 0 for s in job.steps)
            reason = f" ({job.skip_reason})" if job.skip_reason else ""
            lines.append(f"| {job.id} | {job.status}{reason} | {job.executor or '-'} | {duration:.1f} s |")
    host = record.metrics.host.to_dict()
    if host:
        lines += ["", "## Host metrics", ""] + [f"- {k}: {v}" for k, v in host.items()]
    ref = record.metrics.reference_c
    if ref is not None:
        lines += ["", "## Reference C backend", ""] + [f"- {k}: {v}" for k, v in ref.to_dict().items()]
    if record.warnings:
        lines += ["", "## Warnings", ""] + [f"- `{w.where}`: {w.message}" for w in record.warnings]
    if record.errors:
        lines += ["", "## Errors", ""] + [f"- `{e.where}`: {e.message}" for e in record.errors]
    if step_summaries.strip():
        lines += ["", step_summaries.strip()]
    return "\n".join(lines) + "\n"
