"""One frozen settings object: defaults < benchd.toml < BENCHD_* environment < CLI flags.

Nothing else in benchd reads os.environ for configuration.
"""

from __future__ import annotations

import dataclasses
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


@dataclass(frozen=True)
class DockerSettings:
    memory: str = "4g"  # memory limit of a job container
    cpus: float = 2.0  # CPU limit of a job container
    extra_ca: str = ""  # PEM bundle injected into image builds (TLS-intercepting proxies)
    registry: str = ""  # registry holding the lab's benchd/* images (never Docker Hub: anyone can publish there)


@dataclass(frozen=True)
class DashboardSettings:
    enabled: bool = False  # serve the dashboard from `benchd watch` too
    host: str = "127.0.0.1"  # loopback unless configured
    port: int = 8737
    token_env: str = "BENCHD_DASHBOARD_TOKEN"  # required when bound beyond loopback
    public_url: str = ""  # how others reach the dashboard (links in commit statuses); default http://host:port


@dataclass(frozen=True)
class Settings:
    inbox: Path = Path("data/inbox")  # where models are dropped
    results: Path = Path("data/results")  # results/<stem>/<run-id>/
    state: Path = Path("data/state")  # SQLite store, workspaces, leases
    pipeline: str = "microkws"  # name in pipelines/ or a path to a workflow file
    pipelines_dir: Path = Path("pipelines")  # where pipeline names are looked up
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

    @property
    def db_path(self) -> Path:
        return self.state / "benchd.sqlite3"

    @property
    def processed(self) -> Path:
        return self.inbox.parent / "processed"

    @property
    def rejected(self) -> Path:
        return self.inbox.parent / "rejected"


def _coerce(value: Any, current: Any, where: str) -> Any:
    """Turn a TOML or environment value into the type of the default it replaces."""
    try:
        if isinstance(current, bool):
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off", ""):
                    return False
                raise ValueError(value)
            return bool(value)
        if isinstance(current, Path):
            return Path(value)
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, tuple):
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(str(v) for v in value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot use {value!r} here (expected {type(current).__name__})") from exc


def _merge(obj: Any, data: Mapping[str, Any], where: str) -> Any:
    changes: dict[str, Any] = {}
    names = {f.name: f for f in dataclasses.fields(obj)}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in names:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(names))})")
        current = getattr(obj, name)
        if name == "webhook":
            items = value if isinstance(value, list) else [value]
            changes[name] = tuple(_merge(WebhookSettings(url=""), item, f"{where}.webhook") for item in items)
        elif name == "github":
            changes[name] = _merge(GithubSettings(), value, f"{where}.github")
        elif dataclasses.is_dataclass(current):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}.{key}: expected a table")
            changes[name] = _merge(current, value, f"{where}.{key}")
        else:
            changes[name] = _coerce(value, current, f"{where}.{key}")
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
        elif f.name in ("webhook", "github"):
            continue
        elif var in env:
            found[f.name] = env[var]
    return found


def find_config(explicit: str | None, env: Mapping[str, str]) -> Path | None:
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
    local = Path("benchd.toml")
    return local if local.is_file() else None


def load_settings(
    config: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings once, at the edge (cli.py), from every source in order."""
    env = os.environ if env is None else env
    settings = Settings()
    path = find_config(config, env)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        settings = _merge(settings, data, str(path))
    settings = _merge(settings, _from_environment(settings, env, "BENCHD"), "environment")
    if overrides:
        settings = _merge(settings, {k: v for k, v in overrides.items() if v is not None}, "command line")
    # Steps run in their own working directory: every folder benchd hands on must be absolute.
    settings = dataclasses.replace(
        settings, **{f.name: getattr(settings, f.name).absolute() for f in dataclasses.fields(settings)
                     if isinstance(getattr(settings, f.name), Path)}
    )
    if settings.executor not in EXECUTOR_CHOICES:
        raise ConfigError(f"executor must be one of {', '.join(EXECUTOR_CHOICES)}, not {settings.executor!r}")
    if settings.float_models not in ("warn", "reject"):
        raise ConfigError(f"float_models must be 'warn' or 'reject', not {settings.float_models!r}")
    if settings.parallel_runs < 1:
        raise ConfigError("parallel_runs must be at least 1")
    return settings
