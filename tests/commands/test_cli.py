"""The command line: one COMMANDS table, the flags scripts rely on (ARCHITECTURE section 9), exit codes."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest

from daemon import cli
from daemon.errors import BenchdError, ModelError


def test_every_command_is_one_row_of_the_table() -> None:
    assert list(cli.COMMANDS) == ["watch", "run", "status", "runs", "show", "logs", "rerun", "cancel", "serve",
                                  "tvmc", "boards", "images", "compile-c", "worker", "submit", "db", "hosts"]
    choices = next(a for a in cli.build_parser()._actions if a.dest == "command").choices
    assert choices is not None and list(choices) == list(cli.COMMANDS)


@pytest.mark.parametrize(
    "argv",
    [
        ["watch", "--inbox", "i", "--results", "r", "--state", "s", "--config", "c.toml", "--executor", "docker"],
        ["run", "m.tflite", "--pipeline", "microkws", "--results", "r", "--state", "s", "--config", "c.toml",
         "--executor", "local", "--force", "--json"],
        ["status", "--json", "--limit", "3"],
        ["runs", "--model", "kws_xs", "--limit", "5", "--json"],
        ["show"],
        ["show", "latest", "--json"],
        ["logs", "20261130-144121-ea0a58", "compile-host/validate", "-f"],
        ["rerun", "latest"],
        ["serve", "--host", "0.0.0.0", "--port", "9000"],
        ["boards", "--json"],
        ["boards", "simulate", "--count", "2", "--chip", "esp32c3", "--fault", "panic"],
        ["boards", "maintenance", "A0B1C2", "--reason", "re-soldering"],
        ["boards", "retire", "A0B1C2"],
        ["boards", "release", "A0B1C2"],
        ["db", "migrate", "--config", "c.toml"],
        ["worker", "--state", "s", "--executor", "local", "--config", "c.toml"],
        ["submit", "m.tflite", "--pipeline", "microkws", "--priority", "2", "--json"],
        ["hosts", "--json"],
        ["images", "list"],
        ["images", "build", "tvm"],
        ["images", "bootstrap"],
        ["compile-c", "m.tflite", "--output", "m.tar"],
        ["--log-level", "debug", "tvmc", "compile", "m.tflite", "--target", "llvm"],
    ],
)
def test_the_documented_flags_parse(argv: list[str]) -> None:
    args = cli.build_parser().parse_args(argv)
    assert args.command in cli.COMMANDS


def test_compile_c_needs_an_output(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["compile-c", "m.tflite"])
    assert exit_.value.code == 2 and "--output" in capsys.readouterr().err


def _fake_backend(monkeypatch: pytest.MonkeyPatch, compile_c: Any) -> list[tuple[Path, Path]]:
    """daemon.codegen as the command sees it: a module with compile_c(model, output)."""
    calls: list[tuple[Path, Path]] = []

    def record(model: Path, output: Path) -> Any:
        calls.append((model, output))
        return compile_c(model, output)

    monkeypatch.setitem(__import__("sys").modules, "daemon.codegen", types.SimpleNamespace(compile_c=record))
    return calls


def test_compile_c_prints_the_sizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "kws.tflite"
    model.write_bytes(b"model")
    calls = _fake_backend(monkeypatch, lambda m, o: {"arena_bytes": 12_288, "arena_lower_bound_bytes": 11_000,
                                                     "constants_bytes": 52_000, "operators": 8})
    assert cli.main(["compile-c", str(model), "--output", str(tmp_path / "kws.tar")]) == 0
    assert calls == [(model, tmp_path / "kws.tar")]
    out = capsys.readouterr().out
    assert "arena 12,288 bytes" in out and "constants 52,000 bytes" in out and "8 operators" in out


def test_compile_c_reads_a_record_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "kws.tflite"
    model.write_bytes(b"model")
    _fake_backend(monkeypatch, lambda m, o: types.SimpleNamespace(arena_bytes=4096, constants_bytes=100))
    assert cli.main(["compile-c", str(model), "--output", str(tmp_path / "kws.tar")]) == 0
    assert "arena 4,096 bytes, constants 100 bytes" in capsys.readouterr().out


@pytest.mark.parametrize("error", [ModelError("kws.tflite: operator 3 (PAD) is not supported by the reference C "
                                              "backend"), BenchdError("cannot write kws.tar: disk full")])
def test_compile_c_refusal_is_exit_2_with_the_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str], error: Exception) -> None:
    model = tmp_path / "kws.tflite"
    model.write_bytes(b"model")

    def refuse(m: Path, o: Path) -> None:
        raise error

    _fake_backend(monkeypatch, refuse)
    assert cli.main(["compile-c", str(model), "--output", str(tmp_path / "kws.tar")]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == f"benchd: error: {error}" and captured.out == ""


def test_compile_c_of_a_missing_model_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile-c", str(tmp_path / "none.tflite"), "--output", str(tmp_path / "x.tar")]) == 2
    assert "none.tflite not found" in capsys.readouterr().err


def test_a_bad_simulated_fault_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["boards", "simulate", "--fault", "nope"]) == 2
    assert "unknown fault ['nope']" in capsys.readouterr().err


def test_tvmc_is_handed_over_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    fake = types.SimpleNamespace(main=lambda argv: seen.append(argv) or 0)
    monkeypatch.setitem(__import__("sys").modules, "daemon.tvmc.frontend", fake)
    assert cli.main(["tvmc", "compile", "m.tflite", "--bogus"]) == 0
    assert cli.main(["--log-level", "error", "tvmc", "run", "m.tar"]) == 0
    assert seen == [["compile", "m.tflite", "--bogus"], ["run", "m.tar"]]
