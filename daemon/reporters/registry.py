"""Which reporters and background services a configuration asks for.

`REPORTERS` is the seam: a name -> a factory that turns the settings into zero or more reporters.
Adding a reporter is one module plus one entry here. The files reporter (result.json, summary.md)
is written by the daemon itself and is not in this table.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from daemon.reporters.reporter import Reporter
from daemon.settings import Settings
from daemon.store.db import Store

Factory = Callable[[Settings, Store, Mapping[str, str]], list[Reporter]]


def dashboard_url(settings: Settings) -> str | None:
    """Where a commit status links to: only when `benchd watch` serves the dashboard."""
    d = settings.dashboard
    if d.public_url:
        return d.public_url.rstrip("/")
    return f"http://{d.host}:{d.port}" if d.enabled else None


def _junit(settings: Settings, store: Store, env: Mapping[str, str]) -> list[Reporter]:
    from daemon.reporters.junit import JunitReporter

    return [JunitReporter()] if settings.report.junit else []


def _webhook(settings: Settings, store: Store, env: Mapping[str, str]) -> list[Reporter]:
    if not settings.report.webhook:
        return []
    from daemon.reporters.webhook import WebhookReporter

    return [WebhookReporter(ep, store, env) for ep in settings.report.webhook if ep.url]


def _github(settings: Settings, store: Store, env: Mapping[str, str]) -> list[Reporter]:
    if settings.report.github is None:
        return []
    from daemon.reporters.github import GithubReporter

    return [GithubReporter(settings.report.github, store, env, dashboard_url(settings))]


REPORTERS: dict[str, Factory] = {"junit": _junit, "webhook": _webhook, "github": _github}


def build_reporters(settings: Settings, store: Store, env: Mapping[str, str] | None = None) -> list[Reporter]:
    env = os.environ if env is None else env  # secrets are read here, at the edge, and nowhere deeper
    return [reporter for factory in REPORTERS.values() for reporter in factory(settings, store, env)]


def delivery_worker(settings: Settings, store: Store, env: Mapping[str, str] | None = None) -> Any | None:
    """The DeliveryWorker of the outbox (not started): a lane per webhook endpoint and one for GitHub
    statuses; None when neither is configured. Secrets are read from `env` when each delivery is sent."""
    from daemon.reporters.delivery import DeliveryWorker, Lane
    from daemon.reporters.github import GithubLane
    from daemon.reporters.webhook import webhook_lanes

    env = os.environ if env is None else env
    lanes: list[Lane] = [*webhook_lanes(settings.report.webhook, env)]
    if settings.report.github is not None:
        lanes.append(GithubLane(settings.report.github, env))
    return DeliveryWorker(store, lanes) if lanes else None


def flush_deliveries(settings: Settings, store: Store, timeout_s: float = 15.0,
                     env: Mapping[str, str] | None = None) -> int:
    """For `benchd run`: try the due deliveries (webhooks, GitHub statuses) now; returns how many stay pending
    for `watch`."""
    worker = delivery_worker(settings, store, env)
    if worker is None:
        return 0
    try:
        return int(worker.drain(timeout_s))
    finally:
        worker.stop()
