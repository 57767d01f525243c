"""The dashboard's ASGI app (Starlette): one static page plus a read-only JSON API over `views`.

Endpoints are `async` on purpose: their work is short SQLite reads (WAL readers never wait for the
daemon), and staying on the event loop's thread avoids a thread pool of non-daemon workers.
When a token is configured every request needs it: `Authorization: Bearer …`, or `?token=…` once,
which sets an HttpOnly cookie for the page's own polling.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from daemon.reporters import views
from daemon.reporters.dashboard.page import APP_JS, INDEX_HTML, STYLE_CSS
from daemon.store.db import Store

COOKIE = "benchd_token"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a ?token= in the address never leaks through links
    "Cache-Control": "no-store",
}


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
                                     "dashboard token variable>"}, status_code=401, headers=SECURITY_HEADERS)
        response = await call_next(request)
        if self.token is not None and from_query:
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        response.headers.update(SECURITY_HEADERS)
        return response


def build_app(store: Store, results: Path | None, token: str | None) -> Starlette:
    async def index(request: Request) -> Response:
        return HTMLResponse(INDEX_HTML)

    async def script(request: Request) -> Response:
        return Response(APP_JS, media_type="text/javascript")

    async def style(request: Request) -> Response:
        return Response(STYLE_CSS, media_type="text/css")

    async def runs(request: Request) -> Response:
        limit = _int(request.query_params.get("limit"), 30, 1, 500)
        return JSONResponse(views.recent_runs(store, limit))

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

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [
        Route("/", index), Route("/app.js", script), Route("/style.css", style),
        Route("/api/runs", runs), Route("/api/runs/{run_id}", run),
        Route("/api/runs/{run_id}/log", log),
        Route("/api/boards", boards), Route("/healthz", health),
    ]  # GET only: the dashboard never changes anything
    return Starlette(routes=routes, middleware=[Middleware(_TokenGate, token=token)])


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(max(int(value), low), high) if value is not None else default
    except ValueError:
        return default
