"""Sending the outbox: one lane per endpoint (a webhook, GitHub's status API), each in its own thread.

Reporters only enqueue (one SQLite commit, store/outbox.py); the `DeliveryWorker` sends each lane's rows in
order with exponential backoff until the lane's judge accepts an answer, refuses it for good, or the row is
older than the lane's max age. A row is marked delivered only after the answer, so a kill between the answer
and that commit can repeat one request: receivers dedupe (webhooks on the Idempotency-Key, GitHub by posting
the same status twice changing nothing).

Secrets are never in the outbox: a lane adds them (a signature, a token) from the environment when it sends.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit

import httpx

from daemon.log import get_logger
from daemon.store.db import Store
from daemon.store.outbox import Delivery, Outbox

LEASE_MARGIN_S = 5.0  # a claim outlives the attempt deadline by this much
USER_AGENT = "benchd-webhook/1"
GITHUB_PREFIX = "github:"  # the outbox endpoint of GitHub statuses: this and the API's URL
MAX_ERROR_TEXT = 300  # of a refusal's body, kept for the explanation
_log = get_logger("benchd.delivery")

Verdict = Literal["delivered", "retry", "give_up"]


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    retry_after: str | None
    text: str  # the start of the body of a refusal (not read for a 2xx: the status is the acknowledgement)


class Lane(Protocol):
    """One endpoint's rows (`key` is their outbox endpoint) and how to send and judge them."""

    @property
    def key(self) -> str: ...

    @property
    def kind(self) -> str:
        """For log lines: 'webhook', 'github status'."""
        ...

    @property
    def label(self) -> str:
        """Where, for logs: never a secret."""
        ...

    @property
    def timeout_s(self) -> float:
        """The deadline of one attempt."""
        ...

    @property
    def max_age_hours(self) -> float: ...

    def ready(self) -> bool:
        """Its secret is set: without it nothing is sent (the rows wait)."""
        ...

    def headers(self, d: Delivery) -> dict[str, str]:
        """Every header of one attempt: the row's, and the secret ones taken from the environment now."""
        ...

    def judge(self, answer: Answer) -> tuple[Verdict, str]:
        """delivered, retry later, or give up now; and the error text when not delivered."""
        ...


class DeliveryWorker:
    """One thread per lane, each sending that lane's outbox rows in order and sleeping until its next due
    retry, an enqueue, or stop(). A slow or hanging endpoint holds only its own thread.

    Every attempt ends at the lane's `timeout_s`, however slowly the peer answers (one byte a second
    resets a socket timeout forever; this is a deadline for the whole exchange). Deliveries queued by
    another process (`benchd run` beside `benchd watch`) are noticed within `idle_check_s`.
    """

    def __init__(self, store: Store, lanes: Sequence[Lane], *, backoff_s: float = 2.0, max_backoff_s: float = 300.0,
                 idle_check_s: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        self.outbox = Outbox(store)
        self.lanes = {lane.key: lane for lane in lanes}
        self.backoff_s, self.max_backoff_s, self.idle_check_s = backoff_s, max_backoff_s, idle_check_s
        self.clock = clock
        self._tls = httpx.create_ssl_context()  # once: building one per attempt costs ~20 ms
        self._stopping = False
        self._threads: dict[str, tuple[threading.Thread, threading.Event]] = {}
        for key in self.outbox.pending_endpoints():
            if key not in self.lanes or not self.lanes[key].ready():
                lane = self.lanes.get(key)
                _log.warning("deliveries kept pending: endpoint not configured or its secret not set",
                             endpoint=lane.label if lane else redact(key))

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> DeliveryWorker:
        for n, key in enumerate(self._deliverable(), 1):
            wake = threading.Event()
            self.outbox.subscribe(wake)  # an enqueue (for any endpoint) wakes every lane; each checks its own
            thread = threading.Thread(target=self._serve, args=(key, wake), name=f"benchd-delivery-{n}", daemon=True)
            self._threads[key] = (thread, wake)
            thread.start()
        return self

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop after the current attempts (each bounded by its lane's timeout_s)."""
        self._stopping = True
        for _, wake in self._threads.values():
            wake.set()
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self._longest() + LEASE_MARGIN_S)
        for thread, wake in self._threads.values():
            thread.join(max(0.0, deadline - time.monotonic()))
            self.outbox.unsubscribe(wake)
        self._threads = {}

    def wake(self) -> None:
        for _, wake in self._threads.values():
            wake.set()

    def drain(self, timeout_s: float) -> int:
        """Deliver until nothing is due before the deadline, each lane in its own thread (the slow one does
        not hold back the others); returns how many deliveries stay pending."""
        deadline = self.clock() + timeout_s
        threads = [threading.Thread(target=self._drain_lane, args=(key, deadline), daemon=True,
                                    name=f"benchd-delivery-drain-{n}")
                   for n, key in enumerate(self._deliverable(), 1)]
        for thread in threads:
            thread.start()
        join_until = time.monotonic() + timeout_s + self._longest() + LEASE_MARGIN_S  # an attempt begun just in time
        for thread in threads:
            thread.join(max(0.0, join_until - time.monotonic()))
        return len(self._deliverable_heads())

    # -- the work ---------------------------------------------------------------------------------
    def _longest(self) -> float:
        return max((lane.timeout_s for lane in self.lanes.values()), default=0.0)

    def _deliverable(self) -> list[str]:
        return [key for key, lane in self.lanes.items() if lane.ready()]

    def _serve(self, key: str, wake: threading.Event) -> None:
        try:
            while not self._stopping:
                wake.clear()  # before the pass: an enqueue during it wakes the next wait at once
                try:
                    self.deliver_due([key])
                except Exception:  # e.g. the store busy beyond its timeout: try again later, never die
                    _log.exception("delivery pass failed", endpoint=self.lanes[key].label)
                if self._stopping:
                    break
                wait = self._next_wait([key])
                wake.wait(self.idle_check_s if wait is None else min(wait, self.idle_check_s))
        finally:
            self.outbox.store.close()  # this thread's own SQLite connection

    def _drain_lane(self, key: str, deadline: float) -> None:
        try:
            while not self._stopping:
                self.deliver_due([key])
                wait = self._next_wait([key])
                if wait is None or self.clock() + wait >= deadline:
                    return
                time.sleep(wait)
        except Exception:
            _log.exception("delivery pass failed", endpoint=self.lanes[key].label)
        finally:
            self.outbox.store.close()

    def _deliverable_heads(self, keys: Iterable[str] | None = None) -> list[Delivery]:
        return self.outbox.heads(self._deliverable() if keys is None else keys)

    def _next_wait(self, keys: Iterable[str] | None = None) -> float | None:
        heads = self._deliverable_heads(keys)
        if not heads:
            return None
        due = min(max(d.next_at, d.lease_until) for d in heads)
        return max(0.0, due - self.clock())

    def deliver_due(self, keys: Iterable[str] | None = None) -> int:
        """One pass over the due heads (of the given lanes, else all), in the caller's thread."""
        delivered = 0
        for head in self._deliverable_heads(keys):
            if self._stopping:
                break
            lane = self.lanes[head.endpoint]
            now = self.clock()
            if now - head.created_at > lane.max_age_hours * 3600:
                self._give_up(head, lane, f"not acknowledged within max_age_hours = {lane.max_age_hours:g} after "
                                          f"{head.attempts} attempts; last: {head.last_error}", now)
                continue
            claimed = self.outbox.claim(head.id, lane.timeout_s + LEASE_MARGIN_S, now)
            if claimed is not None:
                delivered += self._attempt(claimed, lane)
        return delivered

    def _give_up(self, d: Delivery, lane: Lane, reason: str, now: float, status: int | None = None) -> None:
        self.outbox.give_up(d.id, reason, now, status)
        _log.error(f"{lane.kind} delivery given up", run=d.run_id, endpoint=lane.label, reason=reason)

    def _attempt(self, d: Delivery, lane: Lane) -> int:
        status: int | None = None
        retry_after = 0.0
        try:
            answer = send(d.method, d.url, d.body, lane.headers(d), lane.timeout_s, self._tls)
            status = answer.status
            verdict, error = lane.judge(answer)
            if verdict == "delivered":
                self.outbox.delivered(d.id, status, self.clock())
                _log.info(f"{lane.kind} delivered", run=d.run_id, endpoint=lane.label, what=d.event,
                          attempts=d.attempts)
                return 1
            if verdict == "give_up":
                self._give_up(d, lane, error, self.clock(), status)
                return 0
            retry_after = _retry_after(answer.retry_after)
        except (TimeoutError, httpx.TimeoutException):
            error = f"no complete answer within timeout_s = {lane.timeout_s:g} (the deadline of one attempt)"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        delay = max(min(self.backoff_s * 2 ** (d.attempts - 1), self.max_backoff_s), retry_after)
        self.outbox.retry_later(d.id, self.clock() + delay, error, status)
        _log.warning(f"{lane.kind} attempt failed", run=d.run_id, endpoint=lane.label, attempt=d.attempts,
                     error=error, retry_in_s=round(delay, 3))
        return 0


def send(method: str, url: str, body: bytes, headers: Mapping[str, str], deadline_s: float,
         tls: ssl.SSLContext | bool = True) -> Answer:
    """One request, answered (the head; the start of the body of a refusal) within deadline_s.

    httpx's timeouts bound each socket operation, so a peer sending a byte a second never trips them;
    the attempt runs as a task on its own event loop instead, cancelled (connection closed) at the deadline.
    """
    async def exchange() -> Answer:
        async with asyncio.timeout(deadline_s), httpx.AsyncClient(
                follow_redirects=False, timeout=deadline_s, headers={"User-Agent": USER_AGENT}, verify=tls) as client, \
                client.stream(method, url, content=body, headers=dict(headers)) as response:
            text = ""
            if not 200 <= response.status_code < 300:
                async for chunk in response.aiter_bytes():
                    text += chunk.decode("utf-8", "replace")
                    if len(text) >= MAX_ERROR_TEXT:
                        break
            return Answer(response.status_code, response.reason_phrase, response.headers.get("Retry-After"),
                          text[:MAX_ERROR_TEXT])

    loop = asyncio.new_event_loop()  # per attempt: nothing is shared between lanes' threads
    try:
        return loop.run_until_complete(exchange())
    finally:
        loop.close()  # never waits for a resolver thread: a hung DNS lookup cannot outlive the deadline here


def redact(endpoint: str) -> str:
    """An outbox endpoint for logs. Chat webhook URLs often carry their secret in the path: only scheme and
    host are shown; a GitHub lane (`github:` and the API's URL) keeps its prefix."""
    if endpoint.startswith(GITHUB_PREFIX):
        return GITHUB_PREFIX + redact(endpoint[len(GITHUB_PREFIX):])
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path.strip("/") else f"{parts.scheme}://{parts.netloc}"


def _retry_after(value: str | None) -> float:
    try:
        return min(float(value), 3600.0) if value else 0.0
    except ValueError:
        return 0.0  # an HTTP date: our own backoff is good enough
