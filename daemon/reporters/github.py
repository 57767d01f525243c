"""GitHub commit status for drops that carry a sidecar (`MODEL.tflite.json`: repo, sha, context).

A commit *status* rather than a check run: statuses work with a plain token (fine-grained "Commit
statuses: write" or classic `repo:status`), check runs need a GitHub App. Pending at start, then
success / failure / error with a one-line description and a link to the dashboard when there is one.
Both go through the durable outbox (as webhooks do): queued by the run, posted by the DeliveryWorker.
The token comes from the environment when a status is sent; it is never stored, logged nor put in an
error message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from daemon.errors import ReportError
from daemon.log import get_logger
from daemon.record import RunRecord
from daemon.reporters.delivery import GITHUB_PREFIX, Answer, Verdict, redact
from daemon.reporters.reporter import RunInfo
from daemon.settings import GithubSettings
from daemon.store.db import Store
from daemon.store.outbox import Delivery, Outbox

API_VERSION = "2022-11-28"
MAX_DESCRIPTION = 140  # GitHub rejects longer descriptions with 422
TIMEOUT_S = 15.0  # one attempt; the run never waits for it
MAX_AGE_HOURS = 72.0  # as a webhook's default: a status older than this is given up
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION, "User-Agent": "benchd",
           "Content-Type": "application/json"}
FINAL_REFUSALS = (401, 404, 422)  # 403 may be a rate limit and 5xx a bad moment: those are retried
# benchd run status -> GitHub state (cancelled is not a verdict on the commit: error)
STATES = {"success": "success", "failure": "failure", "error": "error", "cancelled": "error"}
_log = get_logger("benchd.github")


def describe(result: dict[str, Any]) -> str:
    """One line for the commit's checks list: verdict, time and the headline metrics."""
    parts = [f"{result.get('pipeline', {}).get('name') or 'benchd'}: {result.get('status')}"]
    if result.get("duration_s"):
        parts[0] += f" in {result['duration_s']:.0f} s"
    host = result.get("metrics", {}).get("host") or {}
    if "latency_ms" in host:
        parts.append(f"host {host['latency_ms']:.2f} ms")
    if "top1_agreement" in host:
        parts.append(f"top-1 {host['top1_agreement']:.2f}")
    cycles = [b["cycles_per_inference"] for b in result.get("metrics", {}).get("boards") or []
              if b.get("cycles_per_inference")]
    if cycles:
        parts.append(f"{min(cycles):,} cycles/inference")
    failed = next((e for e in result.get("errors") or [] if not str(e.get("message")).startswith("warning")), None)
    if failed and result.get("status") != "success":
        parts.append(f"{failed['where']}: {failed['message']}")
    text = ", ".join(parts)
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


class GithubReporter:
    """Queues the run's statuses in the outbox (one commit each); the DeliveryWorker's `GithubLane` posts them
    in order, so a slow or hanging GitHub delays neither the other reporters nor the next run."""

    name = "github"

    def __init__(self, settings: GithubSettings, store: Store, env: Mapping[str, str],
                 dashboard_url: str | None = None) -> None:
        self.settings = settings
        self.outbox = Outbox(store)
        self._has_token = bool(env.get(settings.token_env))
        self.dashboard_url = dashboard_url.rstrip("/") if dashboard_url else None

    def on_start(self, run: RunInfo) -> None:
        self._queue(run, "status.pending", "pending", "benchd: running")

    def report(self, run: RunInfo, record: RunRecord) -> None:
        self._queue(run, "status.final", STATES.get(record.status, "error"), describe(record.to_dict()))

    def _queue(self, run: RunInfo, event: str, state: str, description: str) -> None:
        repo, sha = run.sidecar.get("repo"), run.sidecar.get("sha")
        if not repo or not sha:
            return  # no sidecar (or a malformed one, already recorded under "sidecar"): nothing to post
        if not self._has_token:
            raise ReportError(f"GitHub status for {repo}@{sha[:7]} not posted: set the environment variable "
                              f"{self.settings.token_env} to a token with commit-status write access")
        body: dict[str, Any] = {"state": state, "description": description,
                                "context": run.sidecar.get("context") or self.settings.context}
        if self.dashboard_url:
            body["target_url"] = f"{self.dashboard_url}/#run={run.run_id}"
        url = f"{self.settings.api_url.rstrip('/')}/repos/{repo}/statuses/{sha}"
        if self.outbox.enqueue(lane_key(self.settings), run.run_id, json.dumps(body).encode(), event=event, url=url,
                               headers=HEADERS):
            _log.info("github status queued", run=run.run_id, repo=repo, sha=sha[:7], state=state)


def lane_key(settings: GithubSettings) -> str:
    """The outbox endpoint of this API's statuses: one lane, so a run's pending status goes before its final."""
    return GITHUB_PREFIX + settings.api_url.rstrip("/")


@dataclass(frozen=True)
class GithubLane:
    """Posts the queued statuses with the token named by `token_env`, read from the environment when sent
    (never stored). 201 is delivered; a refusal retrying cannot change (bad token, unknown repository or
    commit, an invalid status) gives up at once with the reason; anything else is retried with backoff."""

    settings: GithubSettings
    env: Mapping[str, str] = field(repr=False)  # holds the token
    timeout_s: float = TIMEOUT_S
    max_age_hours: float = MAX_AGE_HOURS
    kind: str = "github status"

    @property
    def key(self) -> str:
        return lane_key(self.settings)

    @property
    def label(self) -> str:
        return redact(self.key)

    def ready(self) -> bool:
        return bool(self.env.get(self.settings.token_env))

    def headers(self, d: Delivery) -> dict[str, str]:
        return {**d.stored_headers(), "Authorization": f"Bearer {self.env.get(self.settings.token_env, '')}"}

    def judge(self, answer: Answer) -> tuple[Verdict, str]:
        if 200 <= answer.status < 300:
            return "delivered", ""
        verdict: Verdict = "give_up" if answer.status in FINAL_REFUSALS else "retry"
        return verdict, _explain(answer, self.settings)


def _explain(answer: Answer, settings: GithubSettings) -> str:
    try:
        message = str(json.loads(answer.text).get("message", ""))
    except (ValueError, AttributeError):
        message = answer.text[:200]
    code = answer.status
    hint = {
        401: f"the token in {settings.token_env} was rejected: renew it",
        403: f"the token in {settings.token_env} may not write commit statuses here (or a rate limit): "
             "grant 'Commit statuses: write'",
        404: f"repository or commit not found, or the token in {settings.token_env} cannot see it: "
             "check repo/sha in the sidecar and the token's repository access",
        422: "GitHub refused the request: check the sha is a commit pushed to that repository",
    }.get(code, "GitHub answered an unexpected status")
    return f"HTTP {code} {message!r}: {hint}"
