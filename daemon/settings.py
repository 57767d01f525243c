"""One frozen settings object: defaults < benchd.toml < BENCHD_* environment < CLI flags.

Nothing else in benchd reads os.environ for configuration. Where the folders are: beside the benchd.toml
in use (--config, $BENCHD_CONFIG, else the current directory or its nearest parent), or, with none, in the
user's data directory (platformdirs: ~/.local/share/benchd on Linux), so benchd works from any directory.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon.errors import ConfigError

EXECUTOR_CHOICES = ("auto", "docker", "local")


@dataclass(frozen=True)
class WebhookSettings:
    url: str  # endpoint that receives result.json as a POST
    secret_env: str = "BENCHD_WEBHOOK_SECRET"  # name of the variable holding the HMAC secret
    timeout_s: float = 10.0  # one delivery attempt may take this long
    max_age_hours: float = 72.0  # give up on a delivery this old


@dataclass(frozen=True)
class GithubSettings:
    token_env: str = "GITHUB_TOKEN"  # name of the variable holding the token (never the token)
    api_url: str = "https://api.github.com"  # GitHub Enterprise or a test server
    context: str = "benchd"  # default status context


@dataclass(frozen=True)
class ReportSettings:
    webhook: tuple[WebhookSettings, ...] = ()  # zero or more endpoints
    github: GithubSettings | None = None  # commit status when a sidecar names repo and sha
    junit: bool = True  # junit.xml beside result.json


@dataclass(frozen=True)
class BoardSettings:
    allow: tuple[str, ...] = ()  # USB serials or MACs; empty = every ESP32-C3
    deny: tuple[str, ...] = ()  # USB serials or MACs never touched
    ports: tuple[str, ...] = ()  # fixed ports (e.g. socket://127.0.0.1:5555); empty = discover
    quarantine_after: int = 3  # consecutive failed runs before a board is skipped
    lease_s: float = 600.0  # a board lock expires this long after its holder stopped renewing it
    labels: tuple[str, ...] = ()  # labels every board of this host carries (e.g. sensor=mic), for `runs-on`
    health_firmware: str = ""  # real boards' health check: ESP-IDF build folder + expected.txt (relative to the file)


@dataclass(frozen=True)
class DockerSettings:
    memory: str = "4g"  # memory limit of a job container
    cpus: float = 2.0  # CPU limit of a job container
    extra_ca: str = ""  # PEM bundle injected into image builds (TLS-intercepting proxies)
    registry: str = ""  # registry holding the lab's benchd/* images (never Docker Hub: anyone can publish there)
    step_user: str = "1000:1000"  # uid:gid container steps run as when benchd is root (else benchd's own ids)


@dataclass(frozen=True)
class DashboardSettings:
    enabled: bool = False  # serve the dashboard from `benchd watch` too
    host: str = "127.0.0.1"  # loopback unless configured
    port: int = 8737
    token_env: str = "BENCHD_DASHBOARD_TOKEN"  # required when bound beyond loopback
    public_url: str = ""  # how others reach the dashboard (links in commit statuses); default http://host:port


@dataclass(frozen=True)
class QueueSettings:
    url: str = ""  # postgresql://… : one queue shared by several benches; empty = this machine's SQLite alone
    lease_ttl_s: float = 30.0  # a job's lease lapses this long after its last heartbeat
    heartbeat_s: float = 5.0  # how often a worker renews its leases
    reaper_s: float = 5.0  # how often a worker looks for lapsed leases (any host's)
    max_attempts: int = 2  # a job whose host was lost runs again until this many attempts, then ends `error`
    poll_s: float = 5.0  # an idle worker looks at the queue at least this often (NOTIFY wakes it sooner)


@dataclass(frozen=True)
class HostSettings:
    name: str = ""  # this host in the shared queue; empty = the machine's hostname
    labels: tuple[str, ...] = ()  # beyond `host`, for `runs-on: [host, …]` (e.g. docker, gpu)


@dataclass(frozen=True)
class RetentionSettings:
    days: float = 0.0  # finished runs older than this are pruned (result folder, logs, snapshot); 0 = keep
    runs: int = 0  # keep at most this many finished runs, newest first; 0 = no limit


@dataclass(frozen=True)
class Settings:
    inbox: Path = Path("data/inbox")  # where models are dropped
    results: Path = Path("data/results")  # results/<stem>/<run-id>/
    state: Path = Path("data/state")  # SQLite store, workspaces, leases
    pipeline: str = "microkws"  # a name (pipelines/NAME.yml beside the config, else built in) or a workflow file
    pipelines_dir: Path = Path("pipelines")  # NAME.yml here overrides the built-in pipeline of that name
    executor: str = "auto"  # auto | docker | local
    parallel_runs: int = 1  # runs executed at once
    max_model_mb: float = 50.0  # larger drops are rejected
    float_models: str = "warn"  # warn | reject: what to do with a non-quantized model
    stable_s: float = 1.0  # a copied file must keep size and mtime this long (network shares)
    step_timeout_minutes: float = 30.0  # default when a workflow sets no timeout
    report: ReportSettings = field(default_factory=ReportSettings)
    boards: BoardSettings = field(default_factory=BoardSettings)
    docker: DockerSettings = field(default_factory=DockerSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    host: HostSettings = field(default_factory=HostSettings)
    config: Path | None = None  # the benchd.toml in use (None: none found; folders in the user data directory)

    @property
    def db_path(self) -> Path:
        return self.state / "benchd.sqlite3"

    @property
    def processed(self) -> Path:
        return self.inbox.parent / "processed"

    @property
    def rejected(self) -> Path:
        return self.inbox.parent / "rejected"


_CHOICES = {"executor": EXECUTOR_CHOICES, "float_models": ("warn", "reject")}
# Numbers checked where they are read, so that the message names the file key, the variable or the flag.
_AT_LEAST = {"parallel_runs": 1, "max_attempts": 1, "quarantine_after": 1, "stable_s": 0, "port": 0, "days": 0,
             "runs": 0}
_ABOVE_ZERO = {"max_model_mb", "step_timeout_minutes", "lease_s", "cpus", "timeout_s", "max_age_hours",
               "lease_ttl_s", "heartbeat_s", "reaper_s", "poll_s"}
_KINDS = ((bool, "true or false"), (int, "a whole number"), (float, "a number"), (Path, "a path, as text"),
          (tuple, "a list of strings"), (str, "text"))
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _parse_text(value: str, current: Any) -> Any:
    """An environment variable or a flag: text, turned into the type of the default it replaces."""
    if isinstance(current, bool):
        if value.strip().lower() not in _TRUE + _FALSE:
            raise ValueError(value)
        return value.strip().lower() in _TRUE
    if isinstance(current, Path):
        return Path(value)
    if isinstance(current, int):
        return int(value)
    if isinstance(current, float):
        return float(value)
    if isinstance(current, tuple):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


def _coerce(value: Any, current: Any) -> Any:
    """A TOML value must already have the type of the default (a bool is no number, 1.5 is no count)."""
    if isinstance(value, str):
        return _parse_text(value, current)
    if isinstance(current, bool):
        ok = isinstance(value, bool)
    elif isinstance(current, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(current, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(current, tuple):
        ok = isinstance(value, list) and all(isinstance(v, str | int) and not isinstance(v, bool) for v in value)
        value = tuple(str(v) for v in value) if ok else value
    else:  # str and Path: text only
        ok = False
    if not ok:
        raise ValueError(value)
    return value


def _check(name: str, value: Any, where: str) -> None:
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ConfigError(f"{where}: must be one of {', '.join(_CHOICES[name])}, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: must be a finite number, not {value}")
    if name in _AT_LEAST and value < _AT_LEAST[name]:
        raise ConfigError(f"{where}: must be at least {_AT_LEAST[name]}, not {value}")
    if name in _ABOVE_ZERO and value <= 0:
        raise ConfigError(f"{where}: must be greater than 0, not {value}")
    if name == "port" and value > 65535:
        raise ConfigError(f"{where}: must be a TCP port (0-65535), not {value}")


def _where(source: str, key: str) -> str:
    """How the user wrote the key: `FILE: boards.lease_s`, `BENCHD_BOARDS_LEASE_S`, or `--state`."""
    if source == "environment":
        return "environment variable BENCHD_" + key.upper().replace(".", "_")
    if source == "command line":
        return "--" + key.replace("_", "-")
    return f"{source}: {key}"


def _merge(obj: Any, data: Mapping[str, Any], source: str, prefix: str = "") -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{_where(source, prefix.rstrip('.'))}: expected a table, not {data!r}")
    changes: dict[str, Any] = {}
    names = {f.name: f for f in dataclasses.fields(obj) if f.name != "config"}  # config: where the file is
    for key, value in data.items():
        name = key.replace("-", "_")
        where = _where(source, prefix + name)
        if name not in names:
            raise ConfigError(f"{where}: unknown key (known: {', '.join(sorted(names))})")
        current = getattr(obj, name)
        if name == "webhook":
            items = value if isinstance(value, list) else [value]
            hooks = tuple(_merge(WebhookSettings(url=""), item, source, f"{prefix}webhook.") for item in items)
            if any(not hook.url for hook in hooks):
                raise ConfigError(f"{where}: every webhook needs a url")
            changes[name] = hooks
        elif name == "github":
            changes[name] = _merge(GithubSettings(), value, source, f"{prefix}github.")
        elif dataclasses.is_dataclass(current):
            changes[name] = _merge(current, value, source, f"{prefix}{name}.")
        else:
            try:
                changes[name] = _coerce(value, current)
            except (TypeError, ValueError) as exc:
                expected = next(text for kind, text in _KINDS if isinstance(current, kind))
                raise ConfigError(f"{where}: cannot use {value!r} here (expected {expected})") from exc
            _check(name, changes[name], where)
    return dataclasses.replace(obj, **changes)


def _from_environment(obj: Any, env: Mapping[str, str], prefix: str) -> dict[str, Any]:
    """BENCHD_<SECTION>_<KEY> for every scalar or list key, lists comma-separated."""
    found: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        current = getattr(obj, f.name)
        var = f"{prefix}_{f.name.upper()}"
        if dataclasses.is_dataclass(current):
            nested = _from_environment(current, env, var)
            if nested:
                found[f.name] = nested
        elif f.name in ("webhook", "github", "config"):
            continue
        elif var in env:
            found[f.name] = env[var]
    return found


def _absolute(settings: Settings, base: Path) -> Settings:
    """Steps run in their own working directory: every folder benchd hands on must be absolute."""
    return dataclasses.replace(
        settings, **{f.name: base / getattr(settings, f.name) for f in dataclasses.fields(settings)
                     if isinstance(getattr(settings, f.name), Path)}
    )


def user_data_dir() -> Path:
    """Where benchd keeps its folders when no benchd.toml is found (XDG_DATA_HOME is honoured)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("benchd", appauthor=False))


def _in_user_data_dir(settings: Settings) -> Settings:
    home = user_data_dir()
    return dataclasses.replace(settings, inbox=home / "inbox", results=home / "results", state=home / "state",
                               pipelines_dir=home / "pipelines")


def find_config(explicit: str | None, env: Mapping[str, str], cwd: Path | None = None) -> Path | None:
    """--config, else $BENCHD_CONFIG, else benchd.toml in the current directory or the nearest parent."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found")
        return path
    if env.get("BENCHD_CONFIG"):
        path = Path(env["BENCHD_CONFIG"])
        if not path.is_file():
            raise ConfigError(f"BENCHD_CONFIG points to {path}, which does not exist")
        return path
    here = (cwd or Path.cwd()).absolute()
    return next((d / "benchd.toml" for d in (here, *here.parents) if (d / "benchd.toml").is_file()), None)


def load_settings(
    config: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings once, at the edge (cli.py), from every source in order.

    Folders in benchd.toml, and the default folders when there is one, are relative to the file's folder;
    without a file the default folders are in the user data directory; folders from the environment or
    flags are relative to the current directory.
    """
    env = os.environ if env is None else env
    settings = Settings()
    path = find_config(config, env)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        settings = _absolute(_merge(settings, data, str(path)), path.absolute().parent)
        settings = dataclasses.replace(settings, config=path.absolute())
    else:
        settings = _in_user_data_dir(settings)
    settings = _merge(settings, _from_environment(settings, env, "BENCHD"), "environment")
    if overrides:
        settings = _merge(settings, {k: v for k, v in overrides.items() if v is not None}, "command line")
    return _absolute(settings, Path.cwd())


def host_name(settings: Settings) -> str:
    """This host's name in the shared queue: `[host] name`, else the machine's hostname."""
    import socket

    return settings.host.name or socket.gethostname()
