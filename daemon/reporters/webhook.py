"""Webhook reporter: result.json, signed as GitHub signs its webhooks, through a durable outbox.

`WebhookReporter.report()` only enqueues (one SQLite commit) and wakes the `DeliveryWorker`, which posts
in order per endpoint with exponential backoff until a 2xx or the endpoint's max age. A result is marked
delivered only after the 2xx, so a kill between the 2xx and that commit can repeat one post: receivers
dedupe on the `Idempotency-Key` (the run id), which is the same for every attempt.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

import httpx

from daemon.errors import ReportError
from daemon.log import get_logger
from daemon.record import RunRecord
from daemon.reporters.reporter import RunInfo
from daemon.settings import WebhookSettings
from daemon.store.db import Store
from daemon.store.outbox import Delivery, Outbox

SIGNATURE_HEADER = "X-Benchd-Signature-256"
LEASE_MARGIN_S = 5.0  # a claim outlives the attempt deadline by this much
USER_AGENT = "benchd-webhook/1"
_log = get_logger("benchd.webhook")


def sign(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC>` over the exact body bytes (GitHub's X-Hub-Signature-256 scheme)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def redact(url: str) -> str:
    """Chat webhook URLs often carry their secret in the path: log only scheme and host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path.strip("/") else f"{parts.scheme}://{parts.netloc}"


class WebhookReporter:
    name = "webhook"

    def __init__(self, settings: WebhookSettings, store: Store, env: Mapping[str, str]) -> None:
        self.settings = settings
        self.outbox = Outbox(store)
        self._has_secret = bool(env.get(settings.secret_env))

    def on_start(self, run: RunInfo) -> None:
        pass  # one post per run, at the end: receivers get a complete result.json

    def report(self, run: RunInfo, record: RunRecord) -> None:
        if not self._has_secret:
            raise ReportError(f"webhook {redact(self.settings.url)}: no signing secret: set the environment "
                              f"variable {self.settings.secret_env} for benchd (never in benchd.toml); "
                              "the result was not queued")
        body = json.dumps(record.to_dict(), ensure_ascii=False, sort_keys=True).encode()
        if self.outbox.enqueue(self.settings.url, run.run_id, body):
            _log.info("webhook queued", run=run.run_id, endpoint=redact(self.settings.url))


class DeliveryWorker:
    """One thread per endpoint, each posting that endpoint's outbox rows in order and sleeping until its
    next due retry, an enqueue, or stop(). A slow or hanging endpoint holds only its own thread.

    Every attempt ends at the endpoint's `timeout_s`, however slowly the peer answers (one byte a second
    resets a socket timeout forever; this is a deadline for the whole exchange). Deliveries queued by
    another process (`benchd run` beside `benchd watch`) are noticed within `idle_check_s`.
    """

    def __init__(self, store: Store, endpoints: Sequence[WebhookSettings], env: Mapping[str, str], *,
                 backoff_s: float = 2.0, max_backoff_s: float = 300.0, idle_check_s: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.outbox = Outbox(store)
        self.endpoints = {ep.url: ep for ep in endpoints}
        self._secrets = {ep.url: env.get(ep.secret_env, "") for ep in endpoints}
        self.backoff_s, self.max_backoff_s, self.idle_check_s = backoff_s, max_backoff_s, idle_check_s
        self.clock = clock
        self._tls = httpx.create_ssl_context()  # once: building one per attempt costs ~20 ms
        self._stopping = False
        self._lanes: dict[str, tuple[threading.Thread, threading.Event]] = {}
        for url in self.outbox.pending_endpoints():
            if url not in self.endpoints or not self._secrets[url]:
                _log.warning("webhook deliveries kept pending: endpoint not configured or its secret not set",
                             endpoint=redact(url))

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> DeliveryWorker:
        for n, url in enumerate(self._deliverable(), 1):
            wake = threading.Event()
            self.outbox.subscribe(wake)  # an enqueue (for any endpoint) wakes every lane; each checks its own
            thread = threading.Thread(target=self._serve, args=(url, wake), name=f"benchd-webhook-{n}", daemon=True)
            self._lanes[url] = (thread, wake)
            thread.start()
        return self

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop after the current attempts (each bounded by its endpoint's timeout_s)."""
        self._stopping = True
        for _, wake in self._lanes.values():
            wake.set()
        longest = max((ep.timeout_s for ep in self.endpoints.values()), default=0.0)
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else longest + LEASE_MARGIN_S)
        for thread, wake in self._lanes.values():
            thread.join(max(0.0, deadline - time.monotonic()))
            self.outbox.unsubscribe(wake)
        self._lanes = {}

    def wake(self) -> None:
        for _, wake in self._lanes.values():
            wake.set()

    def drain(self, timeout_s: float) -> int:
        """Deliver until nothing is due before the deadline, each endpoint in its own thread (the slow
        one does not hold back the others); returns how many deliveries stay pending."""
        deadline = self.clock() + timeout_s
        threads = [threading.Thread(target=self._drain_endpoint, args=(url, deadline), daemon=True,
                                    name=f"benchd-webhook-drain-{n}")
                   for n, url in enumerate(self._deliverable(), 1)]
        for thread in threads:
            thread.start()
        longest = max((ep.timeout_s for ep in self.endpoints.values()), default=0.0)
        join_until = time.monotonic() + timeout_s + longest + LEASE_MARGIN_S  # an attempt begun just in time
        for thread in threads:
            thread.join(max(0.0, join_until - time.monotonic()))
        return len(self._deliverable_heads())

    # -- the work ---------------------------------------------------------------------------------
    def _deliverable(self) -> list[str]:
        return [url for url in self.endpoints if self._secrets[url]]

    def _serve(self, url: str, wake: threading.Event) -> None:
        try:
            while not self._stopping:
                wake.clear()  # before the pass: an enqueue during it wakes the next wait at once
                try:
                    self.deliver_due([url])
                except Exception:  # e.g. the store busy beyond its timeout: try again later, never die
                    _log.exception("webhook delivery pass failed", endpoint=redact(url))
                if self._stopping:
                    break
                wait = self._next_wait([url])
                wake.wait(self.idle_check_s if wait is None else min(wait, self.idle_check_s))
        finally:
            self.outbox.store.close()  # this thread's own SQLite connection

    def _drain_endpoint(self, url: str, deadline: float) -> None:
        try:
            while not self._stopping:
                self.deliver_due([url])
                wait = self._next_wait([url])
                if wait is None or self.clock() + wait >= deadline:
                    return
                time.sleep(wait)
        except Exception:
            _log.exception("webhook delivery pass failed", endpoint=redact(url))
        finally:
            self.outbox.store.close()

    def _deliverable_heads(self, urls: Iterable[str] | None = None) -> list[Delivery]:
        return self.outbox.heads(self._deliverable() if urls is None else urls)

    def _next_wait(self, urls: Iterable[str] | None = None) -> float | None:
        heads = self._deliverable_heads(urls)
        if not heads:
            return None
        due = min(max(d.next_at, d.lease_until) for d in heads)
        return max(0.0, due - self.clock())

    def deliver_due(self, urls: Iterable[str] | None = None) -> int:
        """One pass over the due heads (of the given endpoints, else all), in the caller's thread."""
        delivered = 0
        for head in self._deliverable_heads(urls):
            if self._stopping:
                break
            ep = self.endpoints[head.endpoint]
            now = self.clock()
            if now - head.created_at > ep.max_age_hours * 3600:
                reason = (f"not acknowledged within max_age_hours = {ep.max_age_hours:g} after {head.attempts} "
                          f"attempts; last: {head.last_error}")
                self.outbox.give_up(head.id, reason, now)
                _log.error("webhook delivery given up", run=head.run_id, endpoint=redact(ep.url), reason=reason)
                continue
            claimed = self.outbox.claim(head.id, ep.timeout_s + LEASE_MARGIN_S, now)
            if claimed is not None:
                delivered += self._attempt(claimed, ep)
        return delivered

    def _attempt(self, d: Delivery, ep: WebhookSettings) -> int:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secrets[ep.url], d.body),
            "Idempotency-Key": d.run_id,
            "X-Benchd-Event": "run.finished",
            "X-Benchd-Delivery": str(d.id),
        }
        status: int | None = None
        retry_after = 0.0
        try:
            status, reason, retry_header = post(ep.url, d.body, headers, ep.timeout_s, self._tls)
            if 200 <= status < 300:
                self.outbox.delivered(d.id, status, self.clock())
                _log.info("webhook delivered", run=d.run_id, endpoint=redact(ep.url), attempts=d.attempts)
                return 1
            error = f"HTTP {status} {reason}".strip()
            retry_after = _retry_after(retry_header)
        except (TimeoutError, httpx.TimeoutException):
            error = f"no complete answer within timeout_s = {ep.timeout_s:g} (the deadline of one attempt)"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        delay = max(min(self.backoff_s * 2 ** (d.attempts - 1), self.max_backoff_s), retry_after)
        self.outbox.retry_later(d.id, self.clock() + delay, error, status)
        _log.warning("webhook attempt failed", run=d.run_id, endpoint=redact(ep.url), attempt=d.attempts,
                     error=error, retry_in_s=round(delay, 3))
        return 0


def post(url: str, body: bytes, headers: Mapping[str, str], deadline_s: float,
         tls: ssl.SSLContext | bool = True) -> tuple[int, str, str | None]:
    """POST and return (status, reason, Retry-After) once the response head arrives, all within deadline_s.

    httpx's timeouts bound each socket operation, so a peer sending a byte a second never trips them;
    the attempt runs as a task on its own event loop instead, cancelled (connection closed) at the deadline.
    The body of the answer is never read: the status is the acknowledgement.
    """
    async def exchange() -> tuple[int, str, str | None]:
        async with asyncio.timeout(deadline_s), httpx.AsyncClient(
                follow_redirects=False, timeout=deadline_s, headers={"User-Agent": USER_AGENT}, verify=tls) as client, \
                client.stream("POST", url, content=body, headers=dict(headers)) as response:
            return response.status_code, response.reason_phrase, response.headers.get("Retry-After")

    loop = asyncio.new_event_loop()  # per attempt: nothing is shared between endpoints' threads
    try:
        return loop.run_until_complete(exchange())
    finally:
        loop.close()  # never waits for a resolver thread: a hung DNS lookup cannot outlive the deadline here


def _retry_after(value: str | None) -> float:
    try:
        return min(float(value), 3600.0) if value else 0.0
    except ValueError:
        return 0.0  # an HTTP date: our own backoff is good enough
