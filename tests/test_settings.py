"""Settings: defaults < benchd.toml < BENCHD_* environment < flags, and bad values named where they were written."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.errors import ConfigError
from daemon.settings import Settings, find_config, load_settings


def _toml(folder: Path, text: str) -> Path:
    path = folder / "benchd.toml"
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No benchd.toml of the checkout or of a parent folder is found by accident."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_defaults_without_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    s = load_settings(env={})
    assert s.executor == "auto" and s.pipeline == "microkws" and s.parallel_runs == 1 and s.max_model_mb == 50.0
    home = tmp_path / "share" / "benchd"  # the user data directory, wherever benchd is started
    assert (s.inbox, s.results, s.state, s.pipelines_dir) == (home / "inbox", home / "results", home / "state",
                                                              home / "pipelines")
    assert s.config is None and not (tmp_path / "cwd" / "data").exists()
    assert s.boards.ports == () and s.report.webhook == () and s.dashboard.port == 8737


def test_the_config_in_use_is_recorded_and_cannot_be_set(tmp_path: Path, _elsewhere: Path) -> None:
    config = _toml(_elsewhere, "")
    assert load_settings(env={}).config == config
    with pytest.raises(ConfigError, match="config: unknown key"):
        load_settings(str(_toml(tmp_path, 'config = "x"\n')), env={})


def test_the_checkout_ships_a_config_that_keeps_its_data_folder() -> None:
    root = Path(__file__).resolve().parent.parent
    s = load_settings(str(root / "benchd.toml"), env={})
    data = root / "data"
    assert (s.inbox, s.results, s.state) == (data / "inbox", data / "results", data / "state")
    assert s.pipelines_dir == root / "pipelines"  # the checkout's pipelines/ is the override beside it


def test_each_layer_overrides_the_one_before(tmp_path: Path) -> None:
    config = _toml(tmp_path, 'executor = "docker"\nparallel_runs = 2\nmax_model_mb = 10\n'
                             '[boards]\nports = ["socket://127.0.0.1:5555"]\nlease_s = 60\n')
    only_file = load_settings(str(config), env={})
    assert (only_file.executor, only_file.parallel_runs, only_file.max_model_mb) == ("docker", 2, 10.0)
    assert only_file.boards.ports == ("socket://127.0.0.1:5555",) and only_file.boards.lease_s == 60.0

    env = {"BENCHD_EXECUTOR": "local", "BENCHD_PARALLEL_RUNS": "3",
           "BENCHD_BOARDS_PORTS": "socket://127.0.0.1:1, socket://127.0.0.1:2", "BENCHD_DASHBOARD_ENABLED": "yes"}
    with_env = load_settings(str(config), env=env)
    assert (with_env.executor, with_env.parallel_runs, with_env.max_model_mb) == ("local", 3, 10.0)
    assert with_env.boards.ports == ("socket://127.0.0.1:1", "socket://127.0.0.1:2")
    assert with_env.boards.lease_s == 60.0 and with_env.dashboard.enabled is True

    with_flags = load_settings(str(config), {"executor": "docker", "state": "flag-state", "inbox": None}, env=env)
    assert with_flags.executor == "docker" and with_flags.parallel_runs == 3
    assert with_flags.state == tmp_path / "cwd" / "flag-state"  # flags are relative to where they are typed


def test_config_is_found_by_flag_variable_or_from_a_parent(tmp_path: Path, _elsewhere: Path) -> None:
    nested = _elsewhere / "a" / "b"
    nested.mkdir(parents=True)
    assert find_config(None, {}, cwd=nested) is None
    found = _toml(_elsewhere, "")
    assert find_config(None, {}, cwd=nested) == found
    other = _toml(tmp_path, "")
    assert find_config(None, {"BENCHD_CONFIG": str(other)}, cwd=nested) == other
    assert find_config(str(found), {"BENCHD_CONFIG": str(other)}) == found
    with pytest.raises(ConfigError, match="config file .*missing.toml not found"):
        find_config(str(tmp_path / "missing.toml"), {})
    with pytest.raises(ConfigError, match="BENCHD_CONFIG points to .*gone.toml, which does not exist"):
        load_settings(env={"BENCHD_CONFIG": str(tmp_path / "gone.toml")})


def test_folders_in_the_file_are_relative_to_it(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    s = load_settings(str(_toml(lab, 'inbox = "drop"\n')), env={"BENCHD_RESULTS": "out"})
    assert s.inbox == lab / "drop"
    assert s.state == lab / "data" / "state"  # defaults too, when there is a file
    assert s.results == tmp_path / "cwd" / "out"  # the environment speaks from the current directory


def test_webhooks_and_github_tables(tmp_path: Path) -> None:
    config = _toml(tmp_path, '[[report.webhook]]\nurl = "https://a"\n[[report.webhook]]\nurl = "https://b"\n'
                             'timeout_s = 3\n[report.github]\ntoken_env = "GH"\n')
    s = load_settings(str(config), env={})
    assert [w.url for w in s.report.webhook] == ["https://a", "https://b"] and s.report.webhook[1].timeout_s == 3.0
    assert s.report.github is not None and s.report.github.token_env == "GH"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('executor = "kubernetes"', r"benchd.toml: executor: must be one of auto, docker, local, not 'kubernetes'"),
        ('float_models = "maybe"', r"float_models: must be one of warn, reject"),
        ("parallel_runs = 0", r"parallel_runs: must be at least 1, not 0"),
        ("parallel_runs = -2", r"parallel_runs: must be at least 1, not -2"),
        ("parallel_runs = 1.5", r"parallel_runs: cannot use 1.5 here \(expected a whole number\)"),
        ("parallel_runs = true", r"parallel_runs: cannot use True here \(expected a whole number\)"),
        ('parallel_runs = "many"', r"parallel_runs: cannot use 'many' here \(expected a whole number\)"),
        ("max_model_mb = -1", r"max_model_mb: must be greater than 0, not -1.0"),
        ("max_model_mb = inf", r"max_model_mb: must be a finite number"),
        ("stable_s = -0.5", r"stable_s: must be at least 0, not -0.5"),
        ("step_timeout_minutes = 0", r"step_timeout_minutes: must be greater than 0"),
        ("inbox = 5", r"inbox: cannot use 5 here \(expected a path, as text\)"),
        ('pipeline = ["a"]', r"pipeline: cannot use \['a'\] here \(expected text\)"),
        ("[boards]\nquarantine_after = 0", r"boards.quarantine_after: must be at least 1"),
        ("[boards]\nlease_s = -5", r"boards.lease_s: must be greater than 0"),
        ('[boards]\nports = "socket://x"\nallow = 5', r"boards.allow: cannot use 5 here \(expected a list of"),
        ("[docker]\ncpus = 0", r"docker.cpus: must be greater than 0"),
        ("[dashboard]\nport = 70000", r"dashboard.port: must be a TCP port"),
        ('[dashboard]\nenabled = "sometimes"', r"dashboard.enabled: cannot use 'sometimes' here \(expected true or"),
        ("boards = 3", r"boards: expected a table, not 3"),
        ("colour = 'red'", r"benchd.toml: colour: unknown key \(known: .*executor"),
        ("[boards]\nport = []", r"boards.port: unknown key \(known: allow, deny, .*lease_s, ports"),
        ('[report]\nwebhook = "https://x"', r"report.webhook: expected a table, not 'https://x'"),
        ("[[report.webhook]]\ntimeout_s = 2", r"report.webhook: every webhook needs a url"),
        ('[[report.webhook]]\nurl = "https://x"\ntimeout_s = -1', r"report.webhook.timeout_s: must be greater than 0"),
        ("[report]\ngithub = 1", r"report.github: expected a table, not 1"),
        ("executor = ", r"benchd.toml: Invalid value"),
    ],
)
def test_bad_values_in_the_file_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(str(_toml(tmp_path, text + "\n")), env={})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BENCHD_EXECUTOR": "podman"}, r"environment variable BENCHD_EXECUTOR: must be one of auto, docker, local"),
        ({"BENCHD_PARALLEL_RUNS": "-1"}, r"BENCHD_PARALLEL_RUNS: must be at least 1, not -1"),
        ({"BENCHD_PARALLEL_RUNS": "two"}, r"BENCHD_PARALLEL_RUNS: cannot use 'two' here \(expected a whole number\)"),
        ({"BENCHD_MAX_MODEL_MB": "nan"}, r"BENCHD_MAX_MODEL_MB: must be a finite number"),
        ({"BENCHD_BOARDS_LEASE_S": "-1"}, r"BENCHD_BOARDS_LEASE_S: must be greater than 0"),
        ({"BENCHD_DASHBOARD_ENABLED": "maybe"}, r"BENCHD_DASHBOARD_ENABLED: cannot use 'maybe' here"),
    ],
)
def test_bad_values_in_the_environment_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_bad_flags_are_named() -> None:
    with pytest.raises(ConfigError, match=r"--executor: must be one of auto, docker, local, not 'swarm'"):
        load_settings(overrides={"executor": "swarm"}, env={})


def test_boolean_words_and_lists_from_the_environment() -> None:
    assert load_settings(env={"BENCHD_REPORT_JUNIT": "off"}).report.junit is False
    assert load_settings(env={"BENCHD_REPORT_JUNIT": "1"}).report.junit is True
    assert load_settings(env={"BENCHD_BOARDS_ALLOW": ""}).boards.allow == ()
    assert load_settings(env={"BENCHD_BOARDS_DENY": "AA,, BB ,"}).boards.deny == ("AA", "BB")


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().executor = "local"  # type: ignore[misc]
