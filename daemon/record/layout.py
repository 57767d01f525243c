"""The results folder's layout, in one place: where a run's files go and how they are read back.

results/<model stem>/<run id>/
    result.json  summary.md  progress.json (while running)  junit.xml
    logs/<job key slug>/<step number>-<step id slug>.log
    artifacts/...

The runner writes logs at `step_log`, the files reporter writes result.json, and the read side (the CLI's
look-back, the dashboard) finds them with the same functions, so a folder name is never rebuilt by hand.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from daemon.record.values import RunRecord

RESULT = "result.json"
PROGRESS = "progress.json"
SUMMARY = "summary.md"
LOGS = "logs"


def safe_stem(name: str) -> str:
    """A directory name for results/<stem>/: the model's stem without anything a shell or path could trip on."""
    stem = name[: -len(".tflite")] if name.lower().endswith(".tflite") else name
    stem = re.sub(r"[^\w.-]", "_", stem).lstrip(".")
    return stem[:100] or "model"


def slug(text: str) -> str:
    """A job key or step id as a file name (matrix keys carry spaces, commas and brackets)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80]


def result_dir(results: Path, model_name: str, run_id: str) -> Path:
    return results / safe_stem(model_name) / run_id


def run_folder(results: Path, model_name: str, run_id: str, recorded: str | None) -> Path:
    """The folder a run's files are in: the one the store recorded, else where the layout puts it."""
    return Path(recorded) if recorded else result_dir(results, model_name, run_id)


def job_logs(out: Path, job_key: str) -> Path:
    return out / LOGS / slug(job_key)


def step_log(out: Path, job_key: str, step_number: int, step_id: str) -> Path:
    """`step_number` counts from 1, as the logs are shown."""
    return job_logs(out, job_key) / f"{step_number}-{slug(step_id)}.log"


def read_record(folder: Path | None) -> RunRecord | None:
    """The run's record: result.json once it finished, progress.json while it runs; None before its first job.
    Parsed once per version of the file (the dashboard asks every second)."""
    if folder is None:
        return None
    for name in (RESULT, PROGRESS):
        path = folder / name
        try:
            st = path.stat()
        except OSError:
            continue
        return _parsed(str(path), st.st_mtime_ns, st.st_size)
    return None


@lru_cache(maxsize=256)
def _parsed(path: str, mtime_ns: int, size: int) -> RunRecord | None:
    try:
        return RunRecord.from_json(Path(path).read_bytes())
    except (OSError, ValueError, TypeError):
        return None  # being replaced right now, or not ours: the next read sees the new one
