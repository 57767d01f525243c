"""Turn a complete drop into one queued run, or into one `status: error` result with the reason.

Nothing is lost: the drop stays in the inbox until its run ends (then it moves to processed/ or
rejected/); the run works on a snapshot under state/models/, so the user may delete the drop.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from daemon.errors import ModelError, PipelineError, ReportError
from daemon.intake.filters import sidecar_of
from daemon.pipeline.loader import find_workflow, load_workflow
from daemon.pipeline.model import Workflow
from daemon.reporters.result import iso, new_result, result_dir, write_result
from daemon.settings import Settings
from daemon.store import Store

_log = structlog.get_logger("intake")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Accepted:
    run_id: str
    status: str  # queued | error | duplicate | pending (already queued by an earlier process)
    message: str = ""


class Intake:
    def __init__(self, settings: Settings, store: Store,
                 image_digest: Callable[[str], str | None] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.image_digest = image_digest  # ref -> the local image's id now (None: unknown), for dedupe
        self._lock = threading.Lock()  # one drop at a time: events for the same file race otherwise

    def workflow(self) -> Workflow:
        return load_workflow(find_workflow(self.settings.pipeline, self.settings.pipelines_dir))

    def accept(self, drop: Path, force: bool = False, move: bool = True) -> Accepted | None:
        with self._lock:
            if not os.path.lexists(drop):
                return None  # already handled (a second event for the same drop)
            return self._accept(drop, force, move)

    def _accept(self, drop: Path, force: bool, move: bool) -> Accepted | None:
        name = drop.name
        try:
            source = self._check_path(drop, move)
            sha, size, snapshot = self._snapshot(source)
        except ModelError as exc:
            return self._reject(drop, str(exc), move, {"name": name, "sha256": None, "size": _size(drop)})
        model = {"name": name, "sha256": sha, "size": size}
        pending = self.store.open_run_for_drop(str(drop), sha)
        if pending is not None:
            return Accepted(pending["id"], "pending")
        try:
            info = self._describe(snapshot)
            workflow = self.workflow()
        except (ModelError, PipelineError) as exc:
            return self._reject(drop, str(exc), move, model)
        sidecar = self._sidecar(drop)
        earlier = None if force else self.store.find_finished(sha, workflow.sha256)
        if earlier is not None and not self._images_changed(earlier):
            return self._duplicate(drop, earlier, model, workflow, move)
        run_id = self.store.add_run(
            model_name=name, model_path=str(snapshot), drop_path=str(drop), sha256=sha, size=size,
            pipeline=str(workflow.file), pipeline_sha256=workflow.sha256, force=int(force),
            sidecar=json.dumps(sidecar),
        )
        if info.get("warnings"):
            _log.warning("model accepted with warnings", run=run_id, warnings=info["warnings"])
        _log.info("run queued", run=run_id, model=name, sha256=sha)
        return Accepted(run_id, "queued")

    # -- checks -----------------------------------------------------------------------------------
    def _check_path(self, drop: Path, move: bool) -> Path:
        if drop.is_symlink():
            target = drop.resolve()
            if move and self.settings.inbox.resolve() not in target.parents:
                raise ModelError(f"{drop.name} is a symlink to {target}, outside the inbox: copy the file in instead")
        if not drop.exists():
            raise ModelError(f"{drop.name} does not exist (a dangling symlink?)")
        if not drop.is_file():
            raise ModelError(f"{drop.name} is not a regular file")
        size = drop.stat().st_size
        if size == 0:
            raise ModelError(f"{drop.name} is empty (0 bytes): the copy may have failed; drop the file again")
        limit = self.settings.max_model_mb * 1024 * 1024
        if size > limit:
            raise ModelError(
                f"{drop.name} is {size / 1048576:.1f} MB, over the {self.settings.max_model_mb:g} MB limit "
                "(max_model_mb in benchd.toml)"
            )
        return drop

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
            raise ModelError(f"cannot read {source.name}: {exc.strerror}") from exc
        sha = digest.hexdigest()
        # Keyed by content, named as dropped: steps and tools then speak of the user's file name.
        final = models / sha / source.name
        final.parent.mkdir(exist_ok=True)
        os.replace(tmp, final)
        final.chmod(0o444)
        return sha, size, final

    def _describe(self, snapshot: Path) -> dict[str, Any]:
        from daemon.actions.inspect import describe_model  # the tflite flatbuffer reader, no TVM

        info = describe_model(snapshot)
        if not info.get("quantized", True):
            message = "the model is not int8-quantized (float32 tensors): quantize it for the microcontroller"
            if self.settings.float_models == "reject":
                raise ModelError(message + " (float_models = \"reject\")")
            info.setdefault("warnings", []).append(message)
        return info

    def _images_changed(self, earlier: Any) -> bool:
        """A pinned image rebuilt since the earlier run (another digest) is a reason to run again."""
        if self.image_digest is None or not earlier["result_dir"]:
            return False
        try:
            jobs = json.loads((Path(earlier["result_dir"]) / "result.json").read_text(encoding="utf-8"))["jobs"]
        except (OSError, ValueError, KeyError):
            return False
        for job in jobs:
            image = job.get("image") or {}
            if image.get("ref") and image.get("digest"):
                now = self.image_digest(image["ref"])
                if now is not None and now != image["digest"]:
                    _log.info("image changed since the earlier run", ref=image["ref"], earlier=earlier["id"])
                    return True
        return False

    def _sidecar(self, drop: Path) -> dict[str, Any]:
        path = sidecar_of(drop)
        if not path.is_file():
            return {}
        try:
            from daemon.reporters.sidecar import parse_sidecar

            return parse_sidecar(path.read_text(encoding="utf-8", errors="replace"))
        except (ReportError, ImportError) as exc:
            return {"_error": f"{path.name}: {exc}"}

    # -- endings that are not a queued run --------------------------------------------------------
    def _reject(self, drop: Path, reason: str, move: bool, model: dict[str, Any]) -> Accepted:
        run_id = self.store.add_run(
            model_name=drop.name, model_path="", drop_path=str(drop), sha256=model.get("sha256") or "",
            size=model.get("size") or 0, pipeline=self.settings.pipeline, status="error", error=reason,
        )
        self.error_result(run_id, model, reason)
        _log.error("drop rejected", run=run_id, model=drop.name, reason=reason)
        if move:
            self.file_away(drop, run_id, "rejected")
        return Accepted(run_id, "error", reason)

    def error_result(self, run_id: str, model: dict[str, Any], reason: str, where: str = "intake") -> Path:
        """The one result of a drop that never ran: status error, with the reason."""
        out = result_dir(self.settings.results, model["name"], run_id)
        result = new_result(run_id, model)
        now = iso(time.time())
        result.update(status="error", started_at=now, finished_at=now)
        result["errors"].append({"where": where, "message": reason})
        write_result(out, result)
        self.store.finish_run(run_id, "error", reason, out)
        return out

    def _duplicate(self, drop: Path, earlier: Any, model: dict[str, Any], workflow: Workflow,
                   move: bool) -> Accepted:
        run_id = self.store.add_run(
            model_name=drop.name, model_path="", drop_path=str(drop), sha256=model["sha256"], size=model["size"],
            pipeline=str(workflow.file), pipeline_sha256=workflow.sha256, status=earlier["status"],
            duplicate_of=earlier["id"],
        )
        out = result_dir(self.settings.results, drop.name, run_id)
        result = new_result(run_id, model, {"name": workflow.name, "file": str(workflow.file),
                                            "sha256": workflow.sha256})
        now = iso(time.time())
        result.update(status=earlier["status"], started_at=now, finished_at=now, duplicate_of=earlier["id"],
                      duplicate_result=earlier["result_dir"])
        write_result(out, result)
        self.store.finish_run(run_id, earlier["status"], None, out)
        _log.info("duplicate drop", run=run_id, earlier=earlier["id"])
        if move:
            self.file_away(drop, run_id, "processed")
        return Accepted(run_id, "duplicate", f"same content and pipeline as run {earlier['id']}")

    def file_away(self, drop: Path, run_id: str, where: str) -> None:
        """Move a finished drop (and its sidecar) out of the inbox so the inbox shows what is pending."""
        target_dir = self.settings.processed if where == "processed" else self.settings.rejected
        target_dir.mkdir(parents=True, exist_ok=True)
        for path in (drop, sidecar_of(drop)):
            if os.path.lexists(path):
                try:
                    _move_out(path, target_dir / f"{run_id}_{path.name}")
                except OSError as exc:
                    _log.error("cannot move drop out of the inbox", path=str(path), error=str(exc))


def _move_out(src: Path, dst: Path) -> None:
    """Link then unlink rather than rename: a rename out of a watched folder is an unpaired IN_MOVED_FROM,
    which watchdog holds back 0.5 s to pair it, delaying every event behind it (new drops included)."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:  # another filesystem, or links not allowed: a plain move
        shutil.move(str(src), str(dst))
        return
    os.unlink(src)


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0

