"""The pipeline as intake takes it and as a run executes it: snapshotted when a drop is decided (its bytes
read once, kept under their hash), loaded from that snapshot when the run starts, and parsed once per content
(the snapshot's hash names its bytes, so a parse cached by hash is never stale)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from daemon import actions
from daemon.errors import BenchdError
from daemon.intake.intake import PipelineRef
from daemon.pipeline.loader import find_workflow, load_workflow
from daemon.pipeline.model import Workflow
from daemon.settings import Settings
from daemon.store.snapshots import pipeline_snapshot, snapshot_pipeline

KEEP_PARSED = 8  # distinct pipeline contents kept parsed (a lab has a few; an edit adds one)


class Pipelines:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._parsed: OrderedDict[tuple[str, str], Workflow] = OrderedDict()
        self._lock = threading.Lock()

    def current(self) -> PipelineRef:
        """For intake, at each drop: the configured pipeline as it is now, snapshotted; or why it cannot load
        (a broken pipeline still gets every drop an error result)."""
        try:
            file = find_workflow(self.settings.pipeline, self.settings.pipelines_dir)
            try:
                raw = file.read_bytes()
            except OSError as exc:
                raise BenchdError(f"{file}: cannot read the workflow: {exc.strerror}") from exc
            _, sha = snapshot_pipeline(self.settings.state, raw)
            self.of_run(str(file), sha)  # parsed now: a pipeline that does not load is the drop's error
        except BenchdError as exc:
            return PipelineRef(self.settings.pipeline, "", str(exc))
        return PipelineRef(str(file), sha)

    def of_run(self, file: str, sha256: str) -> Workflow:
        """The pipeline a run was decided under: its snapshot, named as its source file."""
        key = (file, sha256)
        with self._lock:
            if (parsed := self._parsed.get(key)) is not None:
                self._parsed.move_to_end(key)
                return parsed
        snapshot = pipeline_snapshot(self.settings.state, sha256)
        if not sha256 or not snapshot.is_file():
            raise BenchdError(f"the snapshot of pipeline {file} this run was queued with is gone from the "
                              "state folder: drop the model again to run it with the current pipeline")
        workflow = load_workflow(snapshot, actions.ACTIONS, shown_as=Path(file))
        with self._lock:
            self._parsed[key] = workflow
            while len(self._parsed) > KEEP_PARSED:
                self._parsed.popitem(last=False)
        return workflow

    def patterns(self) -> tuple[str, ...]:
        """The inbox patterns (`on.model_dropped.paths`) of the pipeline as it is at start-up."""
        try:
            return load_workflow(find_workflow(self.settings.pipeline, self.settings.pipelines_dir)).paths
        except BenchdError:
            return ("*.tflite",)  # a broken pipeline still gets every drop an error result
