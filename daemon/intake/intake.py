"""Decide what a complete drop becomes: Queued, Rejected (with the reason) or Duplicate (of an earlier run).

Every decision is a run in the store, queued: the service finishes rejected and duplicate runs at once
through the same journal and files reporter as every other run, and a crash in between loses nothing
(the queued run is finished at the next start). The drop stays in the inbox until its run ends; the run
works on a snapshot under state/models/, so the user may delete the drop.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from daemon.errors import ModelError
from daemon.intake import names
from daemon.intake.filters import sidecar_of
from daemon.modelfile import check_model
from daemon.settings import Settings
from daemon.store import Store
from daemon.store.rows import RunRow, encode_path

_log = structlog.get_logger("intake")
CHUNK = 1 << 20
MAX_SIDECAR_BYTES = 64 * 1024


@dataclass(frozen=True)
class Queued:
    run_id: str


@dataclass(frozen=True)
class Rejected:
    run_id: str
    reason: str


@dataclass(frozen=True)
class Duplicate:
    run_id: str
    of_run: str


@dataclass(frozen=True)
class Changing:
    """The file changed while intake read it (a writer still at work): not decided, look again later."""

    path: Path


@dataclass(frozen=True)
class Pending:
    """Already queued or running for this very drop (a second event, or a restart)."""

    run_id: str


Decision = Queued | Rejected | Duplicate | Pending | Changing


@dataclass(frozen=True)
class PipelineRef:
    """What intake needs of the pipeline: its file and content hash (dedupe), or why it cannot load."""

    file: str
    sha256: str
    error: str | None = None


class Intake:
    def __init__(self, settings: Settings, store: Store, pipeline: Callable[[], PipelineRef],
                 image_digest: Callable[[str], str | None] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.pipeline = pipeline  # loads the workflow now (the service knows how)
        self.image_digest = image_digest  # ref -> the local image's id now (None: unknown), for dedupe
        self._lock = threading.Lock()  # one drop at a time: events for the same file race otherwise

    def decide(self, drop: Path, force: bool = False, move: bool = True) -> Decision | None:
        """None when the drop is already gone (handled by an earlier event)."""
        with self._lock:
            if not os.path.lexists(drop):
                return None
            return self._decide(drop, force, move)

    def _decide(self, drop: Path, force: bool, move: bool) -> Decision:
        drop = drop.absolute()  # the store keeps where it was dropped, wherever benchd was started
        name = names.shown(drop.name)
        before = _signature(drop)
        try:
            self._check_path(drop, move)
            sha, size, snapshot = self._snapshot(drop)
        except ModelError as exc:
            if _signature(drop) != before:
                return Changing(drop)
            return self._reject(drop, str(exc), sha="", size=_size(drop))
        pending = self.store.open_run_for_drop(encode_path(drop), sha)
        if pending is not None:
            return Pending(pending.id)
        pipeline = self.pipeline()
        try:
            self._check_model(snapshot)
        except ModelError as exc:
            if _signature(drop) != before:  # a writer is still at it: the model is not complete yet
                return Changing(drop)
            return self._reject(drop, str(exc), sha=sha, size=size, pipeline=pipeline)
        if _signature(drop) != before:
            return Changing(drop)
        if pipeline.error is not None:
            return self._reject(drop, pipeline.error, sha=sha, size=size, pipeline=pipeline)
        earlier = None if force else self.store.find_finished(sha, pipeline.sha256)
        if earlier is not None and not self._images_changed(earlier):
            run_id = self._add(drop, sha, size, pipeline, duplicate_of=earlier.id)
            _log.info("duplicate drop", run=run_id, earlier=earlier.id)
            return Duplicate(run_id, earlier.id)
        run_id = self._add(drop, sha, size, pipeline, model_path=str(snapshot), force=int(force))
        _log.info("run queued", run=run_id, model=name, sha256=sha)
        return Queued(run_id)

    def _add(self, drop: Path, sha: str, size: int, pipeline: PipelineRef | None, **fields: Any) -> str:
        return self.store.add_run(
            model_name=names.shown(drop.name), model_path=fields.pop("model_path", ""),
            drop_path=encode_path(drop), sha256=sha,
            size=size, pipeline=pipeline.file if pipeline else self.settings.pipeline,
            pipeline_sha256=pipeline.sha256 if pipeline else "", sidecar=self._sidecar(drop), **fields,
        )

    def _reject(self, drop: Path, reason: str, sha: str, size: int, pipeline: PipelineRef | None = None) -> Rejected:
        run_id = self._add(drop, sha, size, pipeline, error=reason)
        _log.error("drop rejected", run=run_id, model=names.shown(drop.name), reason=reason)
        return Rejected(run_id, reason)

    # -- checks -----------------------------------------------------------------------------------
    def _check_path(self, drop: Path, move: bool) -> None:
        name = names.shown(drop.name)
        if drop.is_symlink():
            target = drop.resolve()
            if move and self.settings.inbox.resolve() not in target.parents:
                raise ModelError(f"{name} is a symlink to {names.shown(target)}, outside the inbox: "
                                 "copy the file in instead")
        if not drop.exists():
            raise ModelError(f"{name} does not exist (a dangling symlink?)")
        if not drop.is_file():
            raise ModelError(f"{name} is not a regular file")
        size = drop.stat().st_size
        if size == 0:
            raise ModelError(f"{name} is empty (0 bytes): the copy may have failed; drop the file again")
        limit = self.settings.max_model_mb * 1024 * 1024
        if size > limit:
            raise ModelError(
                f"{name} is {size / 1048576:.1f} MB, over the {self.settings.max_model_mb:g} MB limit "
                "(max_model_mb in benchd.toml)"
            )

    def _snapshot(self, source: Path) -> tuple[str, int, Path]:
        """Hash while copying into state/models/<sha256>/<name> (content-addressed, read-only)."""
        models = self.settings.state.absolute() / "models"  # steps run elsewhere: the path must be absolute
        models.mkdir(parents=True, exist_ok=True)
        tmp = models / f".incoming-{os.getpid()}-{threading.get_ident()}"
        digest, size = hashlib.sha256(), 0
        try:
            with source.open("rb") as src, tmp.open("wb") as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ModelError(f"cannot read {names.shown(source.name)}: {exc.strerror}") from exc
        sha = digest.hexdigest()
        # Keyed by content, named as dropped (as text, and short): steps and tools speak of the user's name.
        final = models / sha / names.snapshot_name(names.shown(source.name))
        final.parent.mkdir(exist_ok=True)
        os.replace(tmp, final)
        final.chmod(0o444)
        return sha, size, final

    def _check_model(self, snapshot: Path) -> None:
        if not check_model(snapshot):
            message = "the model is not int8-quantized (float32 tensors): quantize it for the microcontroller"
            if self.settings.float_models == "reject":
                raise ModelError(message + " (float_models = \"reject\")")
            _log.warning("model accepted with warnings", model=snapshot.name, warnings=[message])

    def _images_changed(self, earlier: RunRow) -> bool:
        """A pinned image rebuilt since the earlier run (another digest) is a reason to run again."""
        if self.image_digest is None or not earlier.result_dir:
            return False
        try:
            jobs = json.loads((Path(earlier.result_dir) / "result.json").read_text(encoding="utf-8"))["jobs"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        for job in jobs:
            image = job.get("image") or {}
            if image.get("ref") and image.get("digest"):
                now = self.image_digest(image["ref"])
                if now is not None and now != image["digest"]:
                    _log.info("image changed since the earlier run", ref=image["ref"], earlier=earlier.id)
                    return True
        return False

    def _sidecar(self, drop: Path) -> str | None:
        """The raw text of MODEL.tflite.json beside the drop (the service parses it), bounded."""
        path = _sidecar_path(drop)
        if path is None:
            return None
        try:
            with path.open("rb") as f:
                return f.read(MAX_SIDECAR_BYTES + 1).decode("utf-8", errors="replace")
        except OSError:
            return None

    # -- after the run ----------------------------------------------------------------------------
    def file_away(self, drop: Path, run_id: str, sha256: str, where: str) -> bool:
        """Move a finished drop (and its sidecar) out of the inbox so the inbox shows what is pending; named
        after the run and the content, never the drop's name (which may be too long to prefix). False when
        the drop could not be moved (it stays, and is tried again at the next start; it never runs again)."""
        target_dir = self.settings.processed if where == "processed" else self.settings.rejected
        target_dir.mkdir(parents=True, exist_ok=True)
        filed = names.filed_name(run_id, sha256, names.shown(drop.name))
        moved = True
        for path, target in ((drop, filed), (_sidecar_path(drop), filed + ".json")):
            if path is not None and os.path.lexists(path):
                try:
                    _move_out(path, target_dir / target)
                except OSError as exc:
                    moved = moved and path != drop
                    _log.error("cannot move drop out of the inbox", path=names.shown(path), error=str(exc))
        return moved


def _move_out(src: Path, dst: Path) -> None:
    """Link then unlink rather than rename: a rename out of a watched folder is an unpaired IN_MOVED_FROM,
    which watchdog holds back 0.5 s to pair it, delaying every event behind it (new drops included)."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:  # another filesystem, or links not allowed: a plain move
        shutil.move(str(src), str(dst))
        return
    os.unlink(src)


def _sidecar_path(drop: Path) -> Path | None:
    """MODEL.tflite.json, or None when that name would be longer than the file system allows."""
    path = sidecar_of(drop)
    return path if len(os.fsencode(path.name)) <= 255 else None


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0
