"""The files reporter: the one writer of result.json (ARCHITECTURE §4), summary.md and progress.json.

It subscribes to the run's journal: progress.json is rewritten (atomically) as jobs and steps end, so
the dashboard can show a run that is still going; result.json and summary.md are written once, when
the run finishes, from the same typed RunRecord every other reporter reads (summary.py words it).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from daemon.record import Event, JobFinished, JobStarted, RunFinished, RunRecord, StepFinished
from daemon.reporters.summary import summary_markdown


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
