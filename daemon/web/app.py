"""The dashboard's ASGI app (Starlette): one static page, a JSON API over `daemon.views`, two controls
(re-run, cancel: POST, through `store.controls`) and, for scripts, `POST /runs` into the shared queue
(`web/uploads.py`: the API token in `Authorization`, never the page's CSRF token nor its cookie).

Endpoints are `async` on purpose: their work is short SQLite reads (WAL readers never wait for the
daemon), and staying on the event loop's thread avoids a thread pool of non-daemon workers. `/api/fleet`
and `POST /runs` reach the shared queue over the network: they wait on the loop's own executor (joined when
uvicorn stops).
When a token is configured every request needs it: `Authorization: Bearer …`, or `?token=…` once,
which sets an HttpOnly cookie for the page's own polling. Before that, the Host header must name this
server (DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 sends `Host: evil.example`).
A control also needs the page's CSRF token (from `GET /api/session`, which another origin cannot read) in
`X-CSRF-Token`, and an `Origin`, when sent, that names this server: a form on another site cannot re-run
or cancel anything, even against a loopback dashboard without a token.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from daemon.store import controls
from daemon.store.db import Store
from daemon.views import history, models
from daemon.views import runs as views
from daemon.web.assets import MEDIA_TYPES, asset
from daemon.web.uploads import Uploads, post_run

if TYPE_CHECKING:  # the queue's modules import psycopg: only a dashboard with `[queue] url` loads them
    from daemon.store.queue import Queue

COOKIE = "benchd_token"
CSRF_HEADER = "x-csrf-token"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a ?token= in the address never leaks through links
    "Cache-Control": "no-store",
}


def host_allowed(host_header: str, local: tuple[str, int] | None, names: Collection[str]) -> bool:
    """`Host` is the address and port the client connected to, `localhost` on that port, or one of `names`
    (the public URL's host, e.g. behind a reverse proxy: any port). IP literals cannot be rebound."""
    try:
        parts = urlsplit("//" + host_header)
        name, port = (parts.hostname or "").rstrip("."), parts.port
    except ValueError:  # a port that is not a number
        return False
    if not name or parts.username is not None or parts.password is not None or parts.path:
        return False
    if name in names:
        return True
    if local is None:
        return False
    local_host, local_port = local
    return name in ("localhost", local_host.lower()) and (port or 80) == local_port


class _HostGate(BaseHTTPMiddleware):
    def __init__(self, app: Any, names: Collection[str]) -> None:
        super().__init__(app)
        self.names = {n.lower().rstrip(".") for n in names if n}

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        server = request.scope.get("server")  # the local end of this connection, as uvicorn reports it
        local = (str(server[0]), int(server[1])) if server and server[1] is not None else None
        if not host_allowed(request.headers.get("host", ""), local, self.names):
            return JSONResponse({"error": "this dashboard does not answer to that Host name: open it by its "
                                 "address, as localhost, or set [dashboard] public_url"},
                                status_code=421, headers=SECURITY_HEADERS)
        return await call_next(request)


class _TokenGate(BaseHTTPMiddleware):
    def __init__(self, app: Any, token: str | None) -> None:
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        from_query = request.query_params.get("token")
        if self.token is not None:
            auth = request.headers.get("authorization", "")
            offered = [auth[7:] if auth.lower().startswith("bearer ") else "", request.cookies.get(COOKIE, ""),
                       from_query or ""]
            if not any(o and hmac.compare_digest(o.encode(), self.token.encode()) for o in offered):
                return JSONResponse({"error": "token required: open the dashboard as /?token=<the value of the "
                                     "dashboard token variable> (a script: Authorization: Bearer <it>)"},
                                    status_code=401, headers=SECURITY_HEADERS)
        response = await call_next(request)
        if self.token is not None and from_query:
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        response.headers.update(SECURITY_HEADERS)
        return response


def build_app(store: Store, results: Path | None, token: str | None, hosts: Collection[str] = (),
              queue: Queue | None = None, uploads: Uploads | None = None) -> Starlette:
    """`hosts`: names besides the served address and `localhost` that the Host header may carry; `queue`: the
    shared queue (`[queue] url`), for `/api/fleet`; `uploads`: what `POST /runs` needs (None: it refuses)."""
    uploads = uploads or Uploads("the dashboard token variable", Path("uploads"), 0, None)

    async def index(request: Request) -> Response:
        return HTMLResponse(asset("index.html"))

    async def static(request: Request) -> Response:
        name = request.url.path.lstrip("/")
        return Response(asset(name), media_type=MEDIA_TYPES[name])

    async def runs(request: Request) -> Response:
        limit = _int(request.query_params.get("limit"), 30, 1, 500)
        return JSONResponse(views.recent_runs(store, limit))

    async def model_rows(request: Request) -> Response:
        return JSONResponse(models.models(store, results))

    async def run(request: Request) -> Response:
        detail = views.run_detail(store, request.path_params["run_id"], results)
        return JSONResponse(detail) if detail else JSONResponse({"error": "no such run"}, status_code=404)

    async def log(request: Request) -> Response:
        q = request.query_params  # job ids of matrix jobs hold characters a path segment cannot
        offset = _int(q.get("offset"), 0, 0, 1 << 40)
        tail = views.log_tail(store, request.path_params["run_id"], q.get("job", ""), _int(q.get("idx"), 0, 0, 9999),
                              offset)
        return JSONResponse(tail) if tail else JSONResponse({"error": "no log for this step"}, status_code=404)

    async def boards(request: Request) -> Response:
        return JSONResponse(views.boards(store))

    async def board(request: Request) -> Response:
        found = history.board_history(store, request.query_params.get("id", ""), results)
        return JSONResponse(found) if found else JSONResponse({"error": "no such board"}, status_code=404)

    async def model(request: Request) -> Response:
        found = history.model_history(store, request.query_params.get("name", ""), results)
        return JSONResponse(found) if found else JSONResponse({"error": "no runs of that model"}, status_code=404)

    async def compare(request: Request) -> Response:
        q = request.query_params
        found = history.compare(store, q.get("a", ""), q.get("b", ""), results)
        return JSONResponse(found) if found else JSONResponse({"error": "no such run"}, status_code=404)

    async def session(request: Request) -> Response:
        return JSONResponse({"csrf": csrf})

    async def rerun(request: Request) -> Response:
        if (refused := _refuse_post(request, csrf)) is not None:
            return refused
        try:
            done = controls.rerun(store, request.path_params["run_id"])
        except controls.ControlError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse({"run_id": done.run_id, "queued": done.queued}, status_code=202)

    async def cancel(request: Request) -> Response:
        if (refused := _refuse_post(request, csrf)) is not None:
            return refused
        try:
            row = controls.request_cancel(store, request.path_params["run_id"])
        except controls.ControlError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse({"run_id": row.id, "requested": True}, status_code=202)

    async def fleet_overview(request: Request) -> Response:
        if queue is None:
            return JSONResponse({"error": "no shared queue: set [queue] url in benchd.toml (or BENCHD_QUEUE_URL)"},
                                status_code=404)
        from daemon.store.postgres import QueueUnavailable
        from daemon.views import fleet

        try:  # on a worker thread: a queue that stopped answering holds up this request only, not the page
            return JSONResponse(await asyncio.to_thread(fleet.overview, queue))
        except QueueUnavailable as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)

    async def submit(request: Request) -> Response:
        return await post_run(request, uploads, token)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    csrf = secrets.token_urlsafe(32)  # one per server process; the page reads it once
    routes = [
        Route("/", index), Route("/app.js", static), Route("/style.css", static),
        Route("/api/models", model_rows), Route("/api/runs", runs), Route("/api/runs/{run_id}", run),
        Route("/api/runs/{run_id}/log", log),
        Route("/api/runs/{run_id}/rerun", rerun, methods=["POST"]),
        Route("/api/runs/{run_id}/cancel", cancel, methods=["POST"]),
        Route("/api/model", model), Route("/api/compare", compare), Route("/api/session", session),
        Route("/api/boards", boards), Route("/api/board", board), Route("/api/fleet", fleet_overview),
        Route("/runs", submit, methods=["POST"]), Route("/healthz", health),
    ]  # GET only but for the two controls and POST /runs
    return Starlette(routes=routes, middleware=[Middleware(_HostGate, names=hosts),
                                                Middleware(_TokenGate, token=token)])


def _refuse_post(request: Request, csrf: str) -> Response | None:
    """403 unless the request carries the CSRF token and, when it names an origin, comes from this server."""
    offered = request.headers.get(CSRF_HEADER, "")
    if not offered or not hmac.compare_digest(offered.encode(), csrf.encode()):
        return JSONResponse({"error": "missing or wrong CSRF token: use the dashboard's own buttons "
                             "(reload the page if the server restarted)"}, status_code=403)
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
        return JSONResponse({"error": f"a control from another origin ({origin}) is refused"}, status_code=403)
    return None


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(max(int(value), low), high) if value is not None else default
    except ValueError:
        return default
