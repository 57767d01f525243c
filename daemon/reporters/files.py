"""The files reporter: the one writer of result.json (ARCHITECTURE §4), summary.md and progress.json.

It subscribes to the run's journal: progress.json is rewritten (atomically) as jobs and steps end, so
the dashboard can show a run that is still going; result.json and summary.md are written once, when
the run finishes, from the same typed RunRecord every other reporter reads (summary.py words it).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from daemon.record import Event, JobFinished, JobStarted, RunFinished, RunRecord, StepFinished
from daemon.record.layout import PROGRESS, RESULT, SUMMARY
from daemon.reporters.summary import summary_markdown


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
            write_text(self.directory / PROGRESS, record.to_json())
        elif isinstance(event, RunFinished):
            self.write(record)

    def write(self, record: RunRecord) -> Path:
        write_text(self.directory / SUMMARY, summary_markdown(record, "\n".join(self.step_summaries)))
        path = self.directory / RESULT
        write_text(path, record.to_json())
        (self.directory / PROGRESS).unlink(missing_ok=True)  # a finished run has no progress to show
        return path
