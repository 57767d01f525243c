"""Serving the dashboard: `benchd serve` (blocking) and `DashboardServer` (a thread inside `benchd watch`).

uvicorn runs the app on a socket we bind ourselves, so a taken port is a clear error instead of
uvicorn's exit, and port 0 works for tests. Loopback needs no login; any other address needs a token.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import signal
import socket
import threading
import time
from collections.abc import Mapping
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import uvicorn

from daemon.errors import BenchdError, ConfigError
from daemon.log import get_logger
from daemon.settings import Settings
from daemon.store.db import Store
from daemon.web.app import build_app
from daemon.web.uploads import UPLOADS, Submit, Uploads, sweep

if TYPE_CHECKING:
    from daemon.store.queue import Queue

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5  # the page's polls are short; nothing holds a connection open longer
_log = get_logger("benchd.dashboard")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def dashboard_token(settings: Settings, host: str, env: Mapping[str, str]) -> str | None:
    """The token to require, or None on loopback without one; refuses a non-loopback bind without it."""
    var = settings.dashboard.token_env
    token = env.get(var) or None
    if token is None and not is_loopback(host):
        raise ConfigError(f"refusing to serve the dashboard on {host} without a token: set {var} "
                          f"(e.g. export {var}=$(openssl rand -hex 16)) and open /?token=…, "
                          "or bind to 127.0.0.1")
    return token


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def public_hosts(settings: Settings) -> tuple[str, ...]:
    """The Host names the dashboard answers to besides its address and localhost: public_url's host."""
    try:
        name = urlsplit(settings.dashboard.public_url).hostname
    except ValueError:
        name = None
    return (name,) if name else ()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given explicitly: asyncio sets TCP_NODELAY only on IPPROTO_TCP sockets (else 40 ms per poll)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = "another program (or benchd) already serves there: pass --port" if exc.errno == errno.EADDRINUSE \
            else "check [dashboard] host"
        raise BenchdError(f"cannot serve the dashboard on {host}:{port}: {exc.strerror}; {hint}") from exc
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


class DashboardServer:
    """`start()` binds and serves in a daemon thread; `stop()` shuts uvicorn down and joins it."""

    def __init__(self, settings: Settings, store: Store, host: str | None = None, port: int | None = None,
                 env: Mapping[str, str] | None = None, queue: Queue | None = None,
                 submit: Submit | None = None) -> None:
        """`queue`: the shared queue for /api/fleet; `submit`: into it, for POST /runs (app/compose.submitter)."""
        env = os.environ if env is None else env  # the edge (cli.py) may pass its own mapping
        self.host = host or settings.dashboard.host
        self.port = settings.dashboard.port if port is None else port
        token = dashboard_token(settings, self.host, env)
        named = () if _is_ip(self.host) else (self.host,)  # `host = "bench.lab"`: its own name is fine too
        self._uploads = Uploads(settings.dashboard.token_env, settings.state / UPLOADS,
                                int(settings.max_model_mb * 1e6), submit)
        app = build_app(store, settings.results, token, public_hosts(settings) + named, queue, self._uploads)
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", ws="none", http="h11",
                                timeout_graceful_shutdown=STOP_TIMEOUT_S)
        self._server = uvicorn.Server(config)
        self._store = store
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> DashboardServer:
        sweep(self._uploads.folder)  # what a killed dashboard was receiving
        self._sock = _bind(self.host, self.port)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, args=(self._sock,), name="benchd-dashboard", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:  # uvicorn offers no event to wait on; this is start-up only
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise BenchdError(f"the dashboard did not start on {self.url} (see the log above)")
            time.sleep(0.02)
        _log.info("dashboard serving", url=self.url)
        return self

    def _run(self, sock: socket.socket) -> None:
        try:
            self._server.run(sockets=[sock])
        finally:
            self._store.close()  # the event loop thread's own SQLite connection

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S + 2)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(2)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def serve(settings: Settings, store: Store, host: str, port: int, env: Mapping[str, str] | None = None,
          queue: Queue | None = None, submit: Submit | None = None) -> None:
    """`benchd serve`: block until SIGINT/SIGTERM, then shut down cleanly; a second signal exits at once."""
    server = DashboardServer(settings, store, host, port, env, queue, submit).start()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise SystemExit(130)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"benchd dashboard on {server.url} (Ctrl-C to stop)", flush=True)
        stop.wait()
    finally:
        server.stop()
        for s, h in previous.items():
            signal.signal(s, h)
