"""`POST /runs`: a script queues a model in the shared queue through the dashboard.

The body is the model's bytes (`Content-Type: application/octet-stream`), `?name=MODEL.tflite` names it and
`?pipeline=NAME` may pick one of the pipelines the daemon's configuration knows (a name only: a path from the
request is refused). The request needs the API token (`Authorization: Bearer <[dashboard] token_env's value>`),
and nothing else will do: not the page's cookie nor `?token=` (a page on another port of the same host is the
same site, so the cookie would ride along), and no token configured means no POST /runs at all, even on
loopback, since it queues work on every bench. The body is counted as it arrives (413 past `max_model_mb`),
written under `state/uploads/<pid>-…/NAME` and handed to the queue's submit on a worker thread.

The submit itself arrives as a callable (`app/compose.submitter`): this package sits below `app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from daemon.errors import BenchdError, ModelError, PipelineError
from daemon.log import get_logger

UPLOADS = "uploads"  # under the state folder; one folder per request, named after the process that owns it
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,199}")
_PIPELINE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
_log = get_logger("benchd.dashboard")


class Queued(Protocol):  # app/submit.Submitted
    @property
    def run_id(self) -> str: ...
    @property
    def jobs(self) -> int: ...
    @property
    def model_sha256(self) -> str: ...


# (model file, pipeline name or None, submitted by, the model's name) -> the queued run
Submit = Callable[[Path, str | None, str, str], Queued]


@dataclass(frozen=True)
class Uploads:
    token_env: str  # [dashboard] token_env: named in the refusal when no token is set
    folder: Path  # state/uploads
    max_bytes: int  # max_model_mb: a longer body is refused as it arrives
    submit: Submit | None  # None without [queue] url


async def post_run(request: Request, uploads: Uploads, token: str | None) -> Response:
    if token is None:
        var = uploads.token_env
        return _error(403, f"POST /runs needs the API token, and none is set: set {var} where benchd starts "
                           f"(e.g. export {var}=$(openssl rand -hex 16)), then send Authorization: Bearer <its value>")
    auth = request.headers.get("authorization", "")
    offered = auth[7:] if auth.lower().startswith("bearer ") else ""
    if not offered or not hmac.compare_digest(offered.encode(), token.encode()):
        return _error(401, f"POST /runs needs Authorization: Bearer <the value of {uploads.token_env}>")
    if uploads.submit is None:
        return _error(404, "no shared queue: set [queue] url in benchd.toml (or BENCHD_QUEUE_URL)")
    if (refused := _refuse_query(request)) is not None:
        return refused
    name, pipeline = request.query_params["name"], request.query_params.get("pipeline") or None
    media = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
    if media != "application/octet-stream":
        return _error(415, f"the body must be the model's bytes as application/octet-stream, not {media}: "
                           "curl --data-binary @MODEL.tflite -H 'Content-Type: application/octet-stream'")
    too_large = _error(413, f"the model is over the limit of {uploads.max_bytes / 1e6:g} MB (max_model_mb)")
    with contextlib.suppress(ValueError):
        if int(request.headers.get("content-length", "0")) > uploads.max_bytes:
            return too_large  # before a byte is read
    uploads.folder.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=uploads.folder))
    try:
        model, size = folder / name, 0
        with model.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > uploads.max_bytes:
                    return too_large
                out.write(chunk)
        if size == 0:
            return _error(422, "the body is empty: send the model's bytes (curl --data-binary @MODEL.tflite)")
        by = f"dashboard@{request.client.host if request.client else 'unknown'}"
        try:  # on a worker thread: the queue is across the network, the model is checked and stored
            done = await asyncio.to_thread(uploads.submit, model, pipeline, by, name)
        except (ModelError, PipelineError) as exc:
            return _error(422, str(exc))
        except BenchdError as exc:
            from daemon.store.postgres import QueueUnavailable  # loaded: a queue is configured

            return _error(503 if isinstance(exc, QueueUnavailable) else 500, str(exc))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _log.info("model submitted", run=done.run_id, name=name, pipeline=pipeline, submitted_by=by, jobs=done.jobs)
    return JSONResponse({"run": done.run_id, "jobs": done.jobs, "model_sha256": done.model_sha256}, status_code=201)


def _refuse_query(request: Request) -> Response | None:
    name, pipeline = request.query_params.get("name", ""), request.query_params.get("pipeline")
    if not _NAME.fullmatch(name) or ".." in name:
        return _error(400, f"?name= must be the model's file name, e.g. ?name=kws.tflite (letters, digits, "
                           f"'_', '.', '+', '-'; no folders), not {name!r}")
    if pipeline and (not _PIPELINE.fullmatch(pipeline) or ".." in pipeline
                     or pipeline.lower().endswith((".yml", ".yaml"))):
        return _error(400, f"?pipeline= must name a pipeline this daemon knows (e.g. microkws), not a file: "
                           f"{pipeline!r}")
    return None


def sweep(folder: Path) -> None:
    """Upload folders a process left when it died mid-request (the live ones are another process's)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        pid = entry.name.split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
