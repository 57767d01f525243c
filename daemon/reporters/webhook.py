"""Webhook reporter: result.json, signed as GitHub signs its webhooks, through the durable outbox.

`WebhookReporter.report()` only enqueues (one SQLite commit); the `DeliveryWorker` (reporters/delivery.py)
posts in order per endpoint through a `WebhookLane`, with exponential backoff until a 2xx or the endpoint's
max age. Receivers dedupe on the `Idempotency-Key` (the run id), the same for every attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from daemon.errors import ReportError
from daemon.log import get_logger
from daemon.record import RunRecord
from daemon.reporters.delivery import Answer, Verdict, redact
from daemon.reporters.reporter import RunInfo
from daemon.settings import WebhookSettings
from daemon.store.db import Store
from daemon.store.outbox import Delivery, Outbox

SIGNATURE_HEADER = "X-Benchd-Signature-256"
EVENT = "run.finished"
_log = get_logger("benchd.webhook")

__all__ = ["SIGNATURE_HEADER", "WebhookLane", "WebhookReporter", "redact", "sign", "webhook_lanes"]


def sign(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC>` over the exact body bytes (GitHub's X-Hub-Signature-256 scheme)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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
        if self.outbox.enqueue(self.settings.url, run.run_id, body, event=EVENT):
            _log.info("webhook queued", run=run.run_id, endpoint=redact(self.settings.url))


@dataclass(frozen=True)
class WebhookLane:
    """Posts one endpoint's results, signed with the secret named by `secret_env` (read when sent)."""

    settings: WebhookSettings
    env: Mapping[str, str] = field(repr=False)  # holds the secret
    kind: str = "webhook"

    @property
    def key(self) -> str:
        return self.settings.url

    @property
    def label(self) -> str:
        return redact(self.settings.url)

    @property
    def timeout_s(self) -> float:
        return self.settings.timeout_s

    @property
    def max_age_hours(self) -> float:
        return self.settings.max_age_hours

    def ready(self) -> bool:
        return bool(self.env.get(self.settings.secret_env))

    def headers(self, d: Delivery) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.env.get(self.settings.secret_env, ""), d.body),
            "Idempotency-Key": d.run_id,
            "X-Benchd-Event": d.event,
            "X-Benchd-Delivery": str(d.id),
            **d.stored_headers(),
        }

    def judge(self, answer: Answer) -> tuple[Verdict, str]:
        if 200 <= answer.status < 300:
            return "delivered", ""
        return "retry", f"HTTP {answer.status} {answer.reason}".strip()


def webhook_lanes(endpoints: Sequence[WebhookSettings], env: Mapping[str, str]) -> list[WebhookLane]:
    return [WebhookLane(ep, env) for ep in endpoints if ep.url]
