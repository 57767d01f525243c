"""Opening the shared queue from the settings: the one place that turns `[queue] url` into a `Queue`.

`open_queue(settings)` is None without `[queue] url` (this machine's SQLite alone); with one it connects
once (a wrong URL or a server that is down fails at once, with the reason) and checks the schema is the one
this benchd knows. The URL's password never appears in a message: `redact` hides it (in the URL's user info,
or a `password=` parameter) in any text that might quote it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from daemon.errors import ConfigError
from daemon.settings import Settings

if TYPE_CHECKING:
    from daemon.store.postgres import Engine
    from daemon.store.queue import Queue

HIDDEN = "***"
WHERE = "[queue] url in benchd.toml (or BENCHD_QUEUE_URL)"


def redact(text: str, url: str) -> str:
    """`text` with every secret of `url` replaced by ***; `redact(url, url)` is the URL safe to print."""
    secrets = set(re.findall(r"password=([^&\s]+)", url))
    try:
        password = urlsplit(url).password
    except ValueError:  # not a URL (a key=value string): its password= parameter was found above
        password = None
    if password:
        secrets |= {password, unquote(password)}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


def open_engine(settings: Settings, name: str = "benchd", connections: int = 2) -> Engine | None:
    """The queue's engine, reachable now (QueueUnavailable saying why not), its schema not checked:
    `benchd db migrate` starts here. None without `[queue] url`."""
    url = settings.queue.url
    if not url:
        return None
    try:
        from daemon.store.postgres import Engine, QueueUnavailable
    except ImportError as exc:  # psycopg missing: only the import, a bug inside would be worth seeing
        raise ConfigError(f"{WHERE} is set, but psycopg is not installed: pip install 'psycopg[binary]' "
                          f"psycopg-pool ({exc})") from exc
    engine = Engine(url, max_size=connections, name=name)
    try:
        engine.probe()
    except QueueUnavailable as exc:  # raised anew, not from it: the cause's own text may quote the URL
        raise QueueUnavailable(f"cannot reach the queue at {redact(url, url)}: {redact(_cause(exc), url)}; "
                               f"check {WHERE} and that PostgreSQL runs there") from None
    return engine


def open_queue(settings: Settings, name: str = "benchd", connections: int = 2) -> Queue | None:
    """The shared queue, reachable and at the schema this benchd knows; None without `[queue] url`.
    Raises QueueUnavailable (unreachable) or QueueSchemaError (not migrated: run `benchd db migrate`).
    The caller closes it: `queue.engine.close()`."""
    from daemon.store import pgschema
    from daemon.store.queue import Queue

    engine = open_engine(settings, name, connections)
    if engine is None:
        return None
    try:
        pgschema.require_latest(engine)
    except BaseException:
        engine.close()
        raise
    return Queue(engine)


def _cause(exc: BaseException) -> str:
    prefix = "the queue's PostgreSQL is unavailable: "
    text = str(exc)
    return text[len(prefix):] if text.startswith(prefix) else text
