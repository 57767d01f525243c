"""The durable outbox of HTTP deliveries (webhooks, GitHub statuses): one row per (endpoint, run, event), in
the same SQLite file as the runs (table in store/schema.py).

A delivery is `pending` until its endpoint accepts it (`delivered`), refuses it for good or it is older than
the endpoint's max age (`gave_up`). Only the oldest pending row of an endpoint (its head) may be attempted, so results
arrive in order per endpoint. A worker claims a head with a short lease before posting, so two processes
(`benchd watch` and `benchd run`) never post the same row at once; a lease left by a killed process expires.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from daemon.store.db import Store

_HEAD = "id = (SELECT MIN(id) FROM outbox o WHERE o.endpoint = outbox.endpoint AND o.state = 'pending')"

# Wake-ups inside one process: enqueue() sets the events of the workers watching the same file.
_listeners: dict[str, set[threading.Event]] = {}
_listeners_lock = threading.Lock()


@dataclass(frozen=True)
class Delivery:
    id: int
    endpoint: str  # the lane that sends it: a webhook's URL, or 'github:' and the API's URL
    run_id: str
    event: str  # 'run.finished' (webhooks), 'status.pending' / 'status.final' (GitHub)
    method: str
    url: str
    headers: str  # JSON object of the headers that are no secret
    body: bytes
    state: str
    attempts: int
    created_at: float
    next_at: float
    lease_until: float
    last_status: int | None
    last_error: str | None
    done_at: float | None

    def stored_headers(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in json.loads(self.headers).items()}

    @classmethod
    def from_row(cls, row: Any) -> Delivery:
        return cls(**{k: row[k] for k in row.keys()})


class Outbox:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._key = str(store.path.resolve())

    # -- wake-ups ---------------------------------------------------------------------------------
    def subscribe(self, event: threading.Event) -> None:
        with _listeners_lock:
            _listeners.setdefault(self._key, set()).add(event)

    def unsubscribe(self, event: threading.Event) -> None:
        with _listeners_lock:
            _listeners.get(self._key, set()).discard(event)

    def _notify(self) -> None:
        with _listeners_lock:
            events = list(_listeners.get(self._key, ()))
        for event in events:
            event.set()

    # -- writes -----------------------------------------------------------------------------------
    def enqueue(self, endpoint: str, run_id: str, body: bytes, now: float | None = None, *,
                event: str = "run.finished", method: str = "POST", url: str | None = None,
                headers: Mapping[str, str] | None = None) -> bool:
        """Queue one delivery durably (to `url`, by default the endpoint itself); False if this event of this
        run was already queued for this endpoint. `headers` must hold no secret: they are stored as given."""
        now = time.time() if now is None else now
        with self.store.transaction() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO outbox (endpoint, run_id, event, method, url, headers, body, created_at, "
                "next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (endpoint, run_id, event, method, url or endpoint, json.dumps(dict(headers or {})), body, now, now),
            )
        self._notify()
        return cur.rowcount == 1

    def claim(self, delivery_id: int, lease_s: float, now: float | None = None) -> Delivery | None:
        """Take a due head for one attempt; None if another worker has it or it is not due."""
        now = time.time() if now is None else now
        with self.store.transaction() as db:
            cur = db.execute(
                f"UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE id = ? AND state = 'pending' "
                f"AND next_at <= ? AND lease_until <= ? AND {_HEAD}",
                (now + lease_s, delivery_id, now, now),
            )
            if cur.rowcount != 1:
                return None
            return Delivery.from_row(db.execute("SELECT * FROM outbox WHERE id = ?", (delivery_id,)).fetchone())

    def delivered(self, delivery_id: int, status: int, now: float | None = None) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'delivered', last_status = ?, last_error = NULL, done_at = ?, "
                "lease_until = 0 WHERE id = ?",
                (status, time.time() if now is None else now, delivery_id),
            )

    def retry_later(self, delivery_id: int, next_at: float, error: str, status: int | None) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET next_at = ?, last_error = ?, last_status = ?, lease_until = 0 WHERE id = ?",
                (next_at, error, status, delivery_id),
            )

    def give_up(self, delivery_id: int, error: str, now: float | None = None, status: int | None = None) -> None:
        """No more attempts; `status` is the HTTP status of a refusal that retrying cannot change."""
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'gave_up', last_error = ?, last_status = COALESCE(?, last_status), "
                "done_at = ?, lease_until = 0 WHERE id = ? AND state = 'pending'",
                (error, status, time.time() if now is None else now, delivery_id),
            )

    # -- reads ------------------------------------------------------------------------------------
    def heads(self, endpoints: Iterable[str]) -> list[Delivery]:
        """The oldest pending delivery of each given endpoint."""
        wanted = list(endpoints)
        if not wanted:
            return []
        rows = self.store.query(
            f"SELECT * FROM outbox WHERE state = 'pending' AND endpoint IN ({', '.join('?' * len(wanted))}) "
            f"AND {_HEAD} ORDER BY id",
            tuple(wanted),
        )
        return [Delivery.from_row(r) for r in rows]

    def pending_endpoints(self) -> list[str]:
        return [r["endpoint"] for r in self.store.query("SELECT DISTINCT endpoint FROM outbox WHERE state = 'pending'")]

    def of_run(self, run_id: str) -> list[Delivery]:
        return [Delivery.from_row(r) for r in self.store.query(
            "SELECT * FROM outbox WHERE run_id = ? ORDER BY id", (run_id,))]

    def all(self) -> list[Delivery]:
        return [Delivery.from_row(r) for r in self.store.query("SELECT * FROM outbox ORDER BY id")]
