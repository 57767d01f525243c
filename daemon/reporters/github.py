"""GitHub commit status for drops that carry a sidecar (`MODEL.tflite.json`: repo, sha, context).

A commit *status* rather than a check run: statuses work with a plain token (fine-grained "Commit
statuses: write" or classic `repo:status`), check runs need a GitHub App. Pending at start, then
success / failure / error with a one-line description and a link to the dashboard when there is one.
The token comes from the environment and is never logged nor put in an error message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from daemon.errors import ReportError
from daemon.log import get_logger
from daemon.record import RunRecord
from daemon.reporters.reporter import RunInfo
from daemon.settings import GithubSettings

API_VERSION = "2022-11-28"
MAX_DESCRIPTION = 140  # GitHub rejects longer descriptions with 422
TIMEOUT_S = 15.0
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
    name = "github"

    def __init__(self, settings: GithubSettings, env: Mapping[str, str], dashboard_url: str | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._token = env.get(settings.token_env, "")
        self.dashboard_url = dashboard_url.rstrip("/") if dashboard_url else None
        self._transport = transport  # tests may inject one; by default a real connection

    def on_start(self, run: RunInfo) -> None:
        self._post(run, "pending", "benchd: running")

    def report(self, run: RunInfo, record: RunRecord) -> None:
        self._post(run, STATES.get(record.status, "error"), describe(record.to_dict()))

    def _post(self, run: RunInfo, state: str, description: str) -> None:
        repo, sha = run.sidecar.get("repo"), run.sidecar.get("sha")
        if not repo or not sha:
            return  # no sidecar (or a malformed one, already recorded under "sidecar"): nothing to post
        if not self._token:
            raise ReportError(f"GitHub status for {repo}@{sha[:7]} not posted: set the environment variable "
                              f"{self.settings.token_env} to a token with commit-status write access")
        body: dict[str, Any] = {"state": state, "description": description,
                                "context": run.sidecar.get("context") or self.settings.context}
        if self.dashboard_url:
            body["target_url"] = f"{self.dashboard_url}/#run={run.run_id}"
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": API_VERSION, "User-Agent": "benchd"}
        url = f"{self.settings.api_url.rstrip('/')}/repos/{repo}/statuses/{sha}"
        try:
            with httpx.Client(transport=self._transport, timeout=TIMEOUT_S) as client:
                response = client.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ReportError(f"GitHub status for {repo}@{sha[:7]} not posted: {self.settings.api_url} "
                              f"unreachable ({type(exc).__name__}: {exc}); check the network or "
                              "[report.github] api_url") from exc
        if response.status_code != 201:
            raise ReportError(f"GitHub status for {repo}@{sha[:7]} not posted: {_explain(response, self.settings)}")
        _log.info("github status posted", run=run.run_id, repo=repo, sha=sha[:7], state=state)


def _explain(response: httpx.Response, settings: GithubSettings) -> str:
    try:
        message = str(response.json().get("message", ""))
    except ValueError:
        message = response.text[:200]
    code = response.status_code
    hint = {
        401: f"the token in {settings.token_env} was rejected: renew it",
        403: f"the token in {settings.token_env} may not write commit statuses here (or a rate limit): "
             "grant 'Commit statuses: write'",
        404: f"repository or commit not found, or the token in {settings.token_env} cannot see it: "
             "check repo/sha in the sidecar and the token's repository access",
        422: "GitHub refused the request: check the sha is a commit pushed to that repository",
    }.get(code, "GitHub answered an unexpected status")
    return f"HTTP {code} {message!r}: {hint}"
