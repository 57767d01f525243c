"""`MODEL.tflite.json` beside a drop: which commit produced the model, so its status can be posted there.

```json
{"repo": "lab/kws-models", "sha": "<40 hex>", "context": "benchd/esp32c3"}
```
Parsed at intake (the edge); a malformed sidecar is a clear ReportError, never a failed run.
"""

from __future__ import annotations

import json
import re
from typing import Any

from daemon.errors import ReportError

# GitHub owner: letters, digits, single hyphens; repository: letters, digits, '.', '_', '-'.
REPO_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
# A full commit id: SHA-1 (40) or SHA-256 (64) repositories; the status API needs the full id.
SHA_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
MAX_CONTEXT = 100  # GitHub truncates nothing here but long contexts make the checks list unreadable
EXAMPLE = '{"repo": "owner/name", "sha": "<full 40-hex commit id>", "context": "benchd"}'


def parse_sidecar(text: str) -> dict[str, Any]:
    """The sidecar as {"repo", "sha", "context"?}; unknown keys are kept for other reporters."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                          f"expected e.g. {EXAMPLE}") from exc
    if not isinstance(data, dict):
        raise ReportError(f"expected a JSON object, got {type(data).__name__}; e.g. {EXAMPLE}")
    missing = [key for key in ("repo", "sha") if not data.get(key)]
    if missing:
        raise ReportError(f"missing {' and '.join(repr(k) for k in missing)}; e.g. {EXAMPLE}")
    repo, sha = data["repo"], data["sha"]
    if not isinstance(repo, str) or not REPO_RE.match(repo) or repo.endswith((".git", "/")):
        raise ReportError(f"'repo' must be 'owner/name' as on GitHub (no URL, no .git), not {repo!r}")
    if not isinstance(sha, str) or not SHA_RE.match(sha.strip().lower()):
        raise ReportError(f"'sha' must be the full commit id (40 hex digits, `git rev-parse HEAD`), not {sha!r}")
    out = dict(data)
    out["sha"] = sha.strip().lower()
    context = data.get("context")
    if context is not None:
        if not isinstance(context, str) or not context.strip() or len(context) > MAX_CONTEXT:
            raise ReportError(f"'context' must be a short non-empty string (≤ {MAX_CONTEXT} chars), not {context!r}")
        out["context"] = context.strip()
    return out
